"""The shipped mappings load the real Polish files in ../shared/data (skipped where that folder is absent)."""

from __future__ import annotations

import json

import geopandas as gpd
import pandas as pd
import psycopg
import pytest
from pyproj import Transformer

from sdi.loader.guard import LoadRefused
from sdi.pipeline import run_load

from conftest import ROOT, run_sdi

MAPPINGS = ROOT / "config" / "mappings"

# (file, theme, mapping, city, read, loaded, rejected)
CASES = [
    ("warszawa_rowery/Warszawa-Okolice.shp", "cycle_paths", "1465011/cycle_paths.yaml", "1465011", 2088, 2088, 0),
    ("bdot10k_gml_sample/PL.PZGiK.330.1465__OT_SKDR_L.xml", "roads", "bdot10k/roads.yaml", "1465011", 2364, 2364, 0),
    (
        "bdot10k_gml_sample/PL.PZGiK.330.1465__OT_BUBD_A.xml",
        "buildings",
        "bdot10k/buildings.yaml",
        "1465011",
        4930,
        4930,
        0,
    ),
    (
        "bdot10k_gml_sample/PL.PZGiK.330.1465__OT_ADJA_A.xml",
        "administrative_units",
        "bdot10k/administrative_units.yaml",
        "1465011",
        9,
        5,
        4,
    ),  # 4 district outlines of the extract collapse to lines
    ("prg_panstwo/Panstwo.shp", "administrative_units", "prg/administrative_units.yaml", "0000000", 1, 1, 0),
    (
        "rspo_szkoly/146510_Srodmiescie_dz.geojson",
        "public_services",
        "rspo/public_services.yaml",
        "1465108",
        343,
        343,
        0,
    ),
    (
        "rspo_szkoly/126105_Krakow-Srodmiescie_de.geojson",
        "public_services",
        "rspo/public_services.yaml",
        "1261011",
        336,
        336,
        0,
    ),
    ("rspo_szkoly/020101_Boleslawiec_m.geojson", "public_services", "rspo/public_services.yaml", "0201011", 69, 69, 0),
    (
        "prg_adresy/06.11.2025_20_06_55__08_lubuskie.xml",
        "address_points",
        "prg/address_points.yaml",
        "0804052",
        2,
        2,
        0,
    ),
    (
        "prg_adresy/NOWE_07.11.2025_12.05.59_08_lubuskie.gml",
        "address_points",
        "prg/address_points_2021.yaml",
        "0802011",
        3,
        3,
        0,
    ),
    ("app_pog_testowy/StrefaPlanistyczna_OK.gml", "land_use_plans", "app/land_use_plans.yaml", "1212011", 4, 4, 0),
    (
        "app_pog_testowy/StrefaPlanistyczna_SAMOPRZECIECIE-PIERSCIENIA.gml",
        "land_use_plans",
        "app/land_use_plans.yaml",
        "1212011",
        4,
        4,
        0,
    ),
]


@pytest.mark.parametrize(
    "file, theme, mapping, city, read, loaded, rejected", CASES, ids=[c[0].split("/")[-1] for c in CASES]
)
def test_shipped_mapping_loads_real_file(
    shared_data, settings, db_url, file, theme, mapping, city, read, loaded, rejected
):
    check = run_sdi("check", str(MAPPINGS / mapping), "--source", str(shared_data / file))
    assert check.returncode == 0, check.stderr
    # More than 5% rejected is published only on the user's word (issue 15's load guard).
    report = run_load(
        shared_data / file,
        city=city,
        theme=theme,
        mapping_path=MAPPINGS / mapping,
        settings=settings,
        accept_rejects=rejected > 0,
    )
    assert (report.features_read, report.features_loaded, report.features_rejected) == (read, loaded, rejected)
    with psycopg.connect(db_url) as conn:
        stored = conn.execute(f"SELECT count(*) FROM data.{theme} WHERE city = %s", [city]).fetchone()[0]
    assert stored == loaded


def test_real_values_are_harmonised(shared_data, settings, db_url):
    d = shared_data
    run_load(
        d / CASES[0][0], city="1465011", theme="cycle_paths", mapping_path=MAPPINGS / CASES[0][2], settings=settings
    )
    run_load(d / CASES[2][0], city="1465011", theme="buildings", mapping_path=MAPPINGS / CASES[2][2], settings=settings)
    run_load(
        d / CASES[5][0], city="1465108", theme="public_services", mapping_path=MAPPINGS / CASES[5][2], settings=settings
    )
    with psycopg.connect(db_url) as conn:

        def q(sql: str) -> dict:
            return dict(conn.execute(sql).fetchall())

        types = q("SELECT path_type, count(*) FROM data.cycle_paths GROUP BY 1")
        assert types == {
            "cycle_track": 1021,
            "shared_footway": 865,
            "other": 106,
            "cycle_lane": 65,
            "contraflow": 26,
            "contraflow_lane": 5,
        }
        assert q("SELECT one_way, count(*) FROM data.cycle_paths GROUP BY 1") == {True: 76, False: 2012}
        assert q("SELECT survey_year IS NULL, count(*) FROM data.cycle_paths GROUP BY 1")[True] == 1455
        functions = q("SELECT function, count(*) FROM data.buildings GROUP BY 1")
        assert functions["residential"] >= 2261 and None not in functions
        services = q("SELECT service_type, count(*) FROM data.public_services GROUP BY 1")
        assert services["kindergarten"] == 52 and None not in services
        row = conn.execute("SELECT address FROM data.public_services WHERE rspo_id = '30690'").fetchone()
        assert row == ("Klonowa 16, 00-591 Warszawa",)


def test_suggested_mappings_load_unchanged(shared_data, settings, tmp_path):
    # (file, theme, city, loaded, rejected): a draft adds no default, so the 15 Bolesławiec entries without an
    # amenity tag (a bursa, a counselling centre...) are rejected with their reason instead of stored as
    # "other"; the shipped RSPO mapping, which knows their other tags, loads all 69.
    for file, theme, city, loaded, rejected in [
        ("warszawa_rowery/Warszawa-Okolice.shp", "cycle_paths", "1465011", 2088, 0),
        ("rspo_szkoly/020101_Boleslawiec_m.geojson", "public_services", "0201011", 54, 15),
    ]:
        draft = tmp_path / f"{theme}.yaml"
        made = run_sdi("mapping", "suggest", str(shared_data / file), "--theme", theme, "-o", str(draft))
        assert made.returncode == 0, made.stderr
        assert "default:" not in draft.read_text()
        assert run_sdi("check", str(draft), "--source", str(shared_data / file)).returncode == 0
        if rejected:
            with pytest.raises(LoadRefused, match=f"{rejected} of {loaded + rejected} features"):
                run_load(shared_data / file, city=city, theme=theme, mapping_path=draft, settings=settings)
        report = run_load(
            shared_data / file,
            city=city,
            theme=theme,
            mapping_path=draft,
            settings=settings,
            accept_rejects=bool(rejected),
        )
        assert (report.features_loaded, report.features_rejected) == (loaded, rejected), report.reject_reasons


# (file, theme, city, loaded): files a new user loads with the unedited `sdi mapping suggest` draft
DRAFTED = [
    ("poznan_gtfs/stops.txt", "public_transport_stops", "3064011", 2728),
    ("prg_jednostki_ewidencyjne/j_ewid_wlkp.gpkg", "administrative_units", "3064011", 320),
    ("egib_budynki_gml/gml_multiple_buildings.xml", "buildings", "1421042", 3),
]


@pytest.mark.parametrize("file, theme, city, loaded", DRAFTED, ids=[c[0].split("/")[0] for c in DRAFTED])
def test_wild_files_load_right_first_time_with_the_draft(shared_data, tmp_path, db_url, file, theme, city, loaded):
    """inspect -> mapping suggest -> load through the CLI, as a new user: every feature, nothing swallowed."""
    env = {"SDI_DATABASE_URL": db_url}
    assert run_sdi("inspect", str(shared_data / file), env=env).returncode == 0
    draft = tmp_path / "draft.yaml"
    assert run_sdi("mapping", "suggest", str(shared_data / file), "--theme", theme, "-o", str(draft)).returncode == 0
    assert "default:" not in draft.read_text()
    report = tmp_path / "r.json"
    done = run_sdi(
        "load",
        str(shared_data / file),
        "--city",
        city,
        "--theme",
        theme,
        "--mapping",
        str(draft),
        "--report",
        str(report),
        env=env,
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(report.read_text())
    assert (data["features_read"], data["features_loaded"], data["features_rejected"]) == (loaded, loaded, 0)
    assert not data["unmapped_values"] and not data["unconverted_values"]  # no code silently replaced


def test_gtfs_stops_keep_their_positions_to_a_centimetre(shared_data, settings, db_url):
    stops = pd.read_csv(shared_data / "poznan_gtfs/stops.txt", dtype=str)
    run_load(shared_data / "poznan_gtfs/stops.txt", city="3064011", theme="public_transport_stops", settings=settings)
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT name, ST_X(geom), ST_Y(geom) FROM data.public_transport_stops").fetchall()
    assert len(rows) == len(stops) == 2728
    x, y = Transformer.from_crs(4326, 2180, always_xy=True).transform(
        stops.stop_lon.astype(float), stops.stop_lat.astype(float)
    )
    stored = sorted((n, round(a, 2), round(b, 2)) for n, a, b in rows)
    # names as written, but for the trailing space of one stop, which the harmonising trims
    expected = sorted(zip(stops.stop_name.str.strip(), (round(v, 2) for v in x), (round(v, 2) for v in y), strict=True))
    worst = max(max(abs(s[1] - e[1]), abs(s[2] - e[2])) for s, e in zip(stored, expected, strict=True))
    assert worst <= 0.01 and [s[0] for s in stored] == [e[0] for e in expected]  # positions and names as written


def test_prg_cadastral_units_keep_codes_and_letters(shared_data, settings, db_url):
    file = shared_data / "prg_jednostki_ewidencyjne/j_ewid_wlkp.gpkg"
    source = gpd.read_file(file)
    run_load(file, city="3064011", theme="administrative_units", settings=settings)
    with psycopg.connect(db_url) as conn:
        rows = sorted(conn.execute("SELECT teryt, name FROM data.administrative_units").fetchall())
        levels = conn.execute("SELECT DISTINCT level FROM data.administrative_units").fetchall()
    assert levels == [("cadastral_unit",)]
    # PRG's 300307_2 is stored as 3003072, and every name keeps its Polish letters
    assert rows == sorted((k.replace("_", ""), v) for k, v in zip(source.JPT_KOD_JE, source.JPT_NAZWA_, strict=True))
    assert any("Ł" in n for _, n in rows)
