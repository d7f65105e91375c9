"""Issue 15: files as they come from the wild, against a real PostGIS: the load guard, land-registry codes,
GTFS, packages of many files, TERYT columns, and an entity bomb that must never become a version."""

from __future__ import annotations

import json
import zipfile

import geopandas as gpd
import psycopg
import pytest
from shapely.geometry import LineString, Point, box

from sdi.core.config import registry
from sdi.core.errors import InputError
from sdi.loader.guard import LoadRefused
from sdi.loader.read import read
from sdi.loader.suggest import suggest
from sdi.pipeline import run_load

from conftest import run_sdi

CITY = "1465011"


def _points(path, n: int, **columns):
    frame = gpd.GeoDataFrame(
        {"nazwa": [f"punkt {i}" for i in range(n)], **columns},
        geometry=[Point(637000 + i, 486000 + i) for i in range(n)],
        crs=2180,
    )
    frame.to_file(path)
    return path


def _lines(path, n: int):
    gpd.GeoDataFrame(
        {"nazwa": [f"droga {i}" for i in range(n)]},
        geometry=[LineString([(637000 + i, 486000), (637000 + i, 486100)]) for i in range(n)],
        crs=2180,
    ).to_file(path)
    return path


def _current(db_url: str, theme: str) -> int:
    with psycopg.connect(db_url) as conn:
        return conn.execute(f"SELECT count(*) FROM data.{theme} WHERE city = %s", [CITY]).fetchone()[0]


def test_a_load_that_stores_nothing_never_goes_live(tmp_path, settings, db_url):
    """Points for cycle_paths rejected every feature, and the empty version replaced 2,088 paths."""
    run_load(_lines(tmp_path / "sciezki.gpkg", 20), city=CITY, theme="cycle_paths", settings=settings)
    with pytest.raises(LoadRefused, match="would store no feature .*all 5 features were rejected") as refused:
        run_load(_points(tmp_path / "punkty.gpkg", 5), city=CITY, theme="cycle_paths", settings=settings)
    assert refused.value.exit_code == 5 and "--allow-empty" in refused.value.fix
    assert refused.value.report.guard["refused"] and refused.value.report.features_rejected == 5
    assert _current(db_url, "cycle_paths") == 20
    with psycopg.connect(db_url) as conn:  # the refused version is kept, finished but not current
        assert conn.execute("SELECT count(*) FROM sdi.loads WHERE theme = 'cycle_paths'").fetchone()[0] == 2
    assert refused.value.load_id and refused.value.report.guard["load_id"] == refused.value.load_id


def test_allow_empty_empties_a_layer_on_purpose(tmp_path, settings, db_url):
    run_load(_points(tmp_path / "a.gpkg", 3), city=CITY, theme="trees", settings=settings)
    empty = gpd.GeoDataFrame({"nazwa": []}, geometry=[], crs=2180)
    empty.to_file(tmp_path / "puste.gpkg")
    with pytest.raises(LoadRefused, match="the source holds no features"):
        run_load(tmp_path / "puste.gpkg", city=CITY, theme="trees", settings=settings)
    report = run_load(tmp_path / "puste.gpkg", city=CITY, theme="trees", settings=settings, allow_empty=True)
    assert report.features_loaded == 0 and report.guard["allow_empty"] is True
    assert _current(db_url, "trees") == 0


def test_too_many_rejects_need_accept_rejects(tmp_path, settings, db_url):
    frame = gpd.GeoDataFrame(
        {"nazwa": ["a"] * 10}, geometry=[Point(637000 + i, 486000) for i in range(9)] + [None], crs=2180
    )
    frame.to_file(tmp_path / "drzewa.gpkg")
    with pytest.raises(LoadRefused, match=r"1 of 10 features \(10%\) were rejected.*over the limit of 5%"):
        run_load(tmp_path / "drzewa.gpkg", city=CITY, theme="trees", settings=settings)
    report = run_load(tmp_path / "drzewa.gpkg", city=CITY, theme="trees", settings=settings, accept_rejects=True)
    assert (report.features_loaded, report.features_rejected) == (9, 1)


def test_a_load_that_halves_the_layer_needs_allow_shrink(tmp_path, settings, db_url):
    run_load(_points(tmp_path / "duzo.gpkg", 10), city=CITY, theme="trees", settings=settings)
    with pytest.raises(LoadRefused, match="shrink the current version from 10 to 4 features"):
        run_load(_points(tmp_path / "malo.gpkg", 4), city=CITY, theme="trees", settings=settings)
    assert _current(db_url, "trees") == 10
    run_load(tmp_path / "malo.gpkg", city=CITY, theme="trees", settings=settings, allow_shrink=True)
    assert _current(db_url, "trees") == 4


def test_the_cli_refuses_in_one_line_exit_5_and_writes_the_report(tmp_path, db_url):
    report = tmp_path / "r.json"
    result = run_sdi(
        "load",
        str(_points(tmp_path / "p.gpkg", 3)),
        "--city",
        CITY,
        "--theme",
        "cycle_paths",
        "--report",
        str(report),
        env={"SDI_DATABASE_URL": db_url},
    )
    assert result.returncode == 5, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: cycle_paths for city 1465011")
    assert json.loads(report.read_text())["guard"]["refused"].startswith("cycle_paths for city 1465011")


def test_billion_laughs_is_refused_with_exit_3_even_with_allow_empty(tmp_path, db_url):
    bomb = tmp_path / "budynki.gml"
    laughs = "".join(f'<!ENTITY l{i} "{("&l" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
    bomb.write_text(
        f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY l0 "lol">{laughs}]>'
        '<r xmlns:gml="http://www.opengis.net/gml"><a>&l9;</a></r>'
    )
    result = run_sdi(
        "load", str(bomb), "--city", CITY, "--theme", "buildings", "--allow-empty", env={"SDI_DATABASE_URL": db_url}
    )
    assert result.returncode == 3 and "DOCTYPE or entities" in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM sdi.loads").fetchone()[0] == 0


def test_egib_letter_codes_map_to_building_functions(tmp_path, settings, db_url):
    letters = {
        "m": "residential",
        "b": "office",
        "h": "health",
        "z": "storage",
        "g": "industrial",
        "t": "transport",
        "k": "commercial",
        "s": "education",
        "r": "agricultural",
        "i": "other",
    }
    frame = gpd.GeoDataFrame(
        {"rodzajWgKST": list(letters) + [str(n) for n in range(101, 111)]},
        geometry=[box(637000 + 20 * i, 486000, 637010 + 20 * i, 486010) for i in range(20)],
        crs=2180,
    )
    frame.to_file(tmp_path / "budynki.gpkg")
    mapping = tmp_path / "m.yaml"
    mapping.write_text("theme: buildings\nfields:\n  function: {from: rodzajWgKST}\n")
    report = run_load(tmp_path / "budynki.gpkg", city=CITY, theme="buildings", mapping_path=mapping, settings=settings)
    assert report.unmapped_values == {} and report.features_loaded == 20
    with psycopg.connect(db_url) as conn:
        got = dict(conn.execute("SELECT source_id, function FROM data.buildings").fetchall())
    assert [got[str(i + 1)] for i in range(10)] == list(letters.values())
    assert got["11"] == "industrial" and got["20"] == "residential"  # KŚT 101 and 110


def test_drafts_keep_unknown_codes_listed_and_warnings_tell_the_truth(tmp_path, settings):
    frame = gpd.GeoDataFrame(
        {"FUNKCJA": ["m", "xyz", "m"]},
        geometry=[box(637000 + 20 * i, 486000, 637010 + 20 * i, 486010) for i in range(3)],
        crs=2180,
    )
    frame.to_file(tmp_path / "b.gpkg")
    draft = suggest(frame, registry().schema("buildings"), registry(), source_name="b.gpkg", layer="b")
    assert "default:" not in draft and '# "xyz": ?' in draft and '"m": residential' in draft
    (tmp_path / "d.yaml").write_text(draft)
    report = run_load(
        tmp_path / "b.gpkg",
        city=CITY,
        theme="buildings",
        mapping_path=tmp_path / "d.yaml",
        settings=settings,
        accept_rejects=True,
    )
    assert report.features_rejected == 1
    assert any("'xyz' ×1" in w and "rejected (the field is required)" in w for w in report.warnings)
    (tmp_path / "o.yaml").write_text(draft.replace("    values:", "    default: other\n    values:", 1))
    report = run_load(
        tmp_path / "b.gpkg",
        city=CITY,
        theme="buildings",
        mapping_path=tmp_path / "o.yaml",
        settings=settings,
        allow_shrink=True,
    )
    assert any("stored as 'other', the mapping's default" in w for w in report.warnings), report.warnings


def test_gtfs_stops_txt_alone_and_in_a_feed_zip(tmp_path, settings, db_url):
    stops = tmp_path / "stops.txt"
    stops.write_text(
        "stop_id,stop_code,stop_name,stop_lat,stop_lon,zone_id\n"
        '1,"0012","Rondo Śródka",52.4107374400,16.9526471700,A\n'
        '2,"SOB42","Os. Sobieskiego",52.4638000300,16.9166601800,A\n'
    )
    source = read(stops)
    assert source.detected["crs"] == "EPSG:4326" and source.detected["crs_source"] == "gtfs"
    assert list(source.frame["stop_code"]) == ["0012", "SOB42"]  # quoted codes keep their zeros
    feed = tmp_path / "gtfs.zip"
    with zipfile.ZipFile(feed, "w") as z:
        z.write(stops, "stops.txt")
        z.writestr("agency.txt", "agency_id,agency_name\n1,ZTM\n")
        z.writestr("routes.txt", "route_id,route_type\n1,3\n")
    report = run_load(feed, city="3064011", theme="public_transport_stops", layer="stops", settings=settings)
    assert report.features_loaded == 2 and report.crs == "EPSG:4326"
    with psycopg.connect(db_url) as conn:
        name, x, y = conn.execute(
            "SELECT name, ST_X(ST_Transform(geom, 4326)), ST_Y(ST_Transform(geom, 4326))"
            " FROM data.public_transport_stops WHERE stop_code = '0012'"
        ).fetchone()
    assert name == "Rondo Śródka" and abs(x - 16.95264717) < 1e-7 and abs(y - 52.41073744) < 1e-7


def test_degrees_without_a_crs_get_lonlat_advice(tmp_path):
    csv = tmp_path / "punkty.csv"
    csv.write_text("nazwa;dlugosc;szerokosc\na;-70,5;40,1\nb;-70,6;40,2\n".replace(",", "."))
    with pytest.raises(InputError) as error:
        read(csv)
    assert "degrees (lon/lat)" in error.value.message and "EPSG:4326" in error.value.fix


def test_every_layer_of_a_package_is_listed_and_chosen(tmp_path):
    """A BDOT10k county package: one GML per layer; --layer picks one by its layer or file name."""
    for name in ("OT_SKDR_L", "OT_BUBD_A"):
        _points(tmp_path / f"PL.PZGiK.330.1465__{name}.gpkg", 2)
    package = tmp_path / "1465_GML.zip"
    with zipfile.ZipFile(package, "w") as z:
        for f in sorted(tmp_path.glob("*.gpkg")):
            z.write(f, f"1465/{f.name}")
    with pytest.raises(InputError, match="holds 2 layers") as error:
        read(package)
    assert "PL.PZGiK.330.1465__OT_SKDR_L" in error.value.fix and "OT_BUBD_A" in error.value.fix
    assert read(package, layer="OT_SKDR_L").count == 2
    listed = run_sdi("inspect", str(package), "--json")
    assert len(json.loads(listed.stdout)["layers"]) == 2, listed.stderr


def test_teryt_columns_are_found_by_value_and_normalised(tmp_path, settings, db_url):
    frame = gpd.GeoDataFrame(
        {"KODJEDNO_1": ["141215_1", "300305_5"], "NAZWA": ["Ursus", "Kłecko - obszar"], "SJR": ["JEW", "JEW"]},
        geometry=[box(637000, 486000, 637100, 486100), box(637200, 486000, 637300, 486100)],
        crs=2180,
    )
    frame.to_file(tmp_path / "jew.gpkg")
    draft = suggest(frame, registry().schema("administrative_units"), registry(), source_name="jew", layer="jew")
    assert "teryt:   # its values are TERYT codes" in draft and '"JEW": cadastral_unit' in draft
    (tmp_path / "d.yaml").write_text(draft)
    run_load(
        tmp_path / "jew.gpkg",
        city=CITY,
        theme="administrative_units",
        mapping_path=tmp_path / "d.yaml",
        settings=settings,
    )
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT teryt, level FROM data.administrative_units ORDER BY 1").fetchall()
    assert rows == [("1412151", "cadastral_unit"), ("3003055", "cadastral_unit")]


def test_a_level_that_names_say_is_suggested_as_a_constant():
    frame = gpd.GeoDataFrame(
        {"NAZWA": ["województwo dolnośląskie", "województwo lubuskie"], "KOD": ["02", "08"]},
        geometry=[Point(0, 0), Point(1, 1)],
    )
    draft = suggest(frame, registry().schema("administrative_units"), registry(), source_name="w", layer="w")
    assert "level: {value: voivodeship}   # every NAZWA value starts with 'województwo'" in draft


def _mixed_shapefile(folder):
    """A .cpg saying UTF-8 over a DBF whose second column was written in Latin-1 (a real powiat file)."""
    folder.mkdir()
    gpd.GeoDataFrame(
        {"GMINA": ["Łódź", "Gdańsk"], "POWIAT": ["powiat Kraków", "powiat gdański"]},
        geometry=[Point(637000, 486000), Point(637100, 486000)],
        crs=2180,
    ).to_file(folder / "p.shp", encoding="utf-8")
    dbf = folder / "p.dbf"
    dbf.write_bytes(
        dbf.read_bytes()
        .replace("powiat Kraków".encode(), b"powiat Krak\xf3w ")
        .replace("powiat gdański".encode(), b"powiat gda\xf1ski ")
    )
    (folder / "p.cpg").write_text("UTF-8")
    return folder / "p.shp"


def test_a_column_invalid_in_the_declared_encoding_is_read_with_its_own(tmp_path, settings, db_url):
    shp = _mixed_shapefile(tmp_path / "mixed")
    source = read(shp)
    assert list(source.frame["POWIAT"]) == ["powiat Kraków", "powiat gdański"]
    assert list(source.frame["GMINA"]) == ["Łódź", "Gdańsk"]
    assert source.detected["column_encodings"] == {"POWIAT": "cp1250"}
    assert any("column POWIAT: 2 value(s) are not valid utf-8" in w for w in source.warnings)
    shown = run_sdi("inspect", str(shp))
    assert shown.returncode == 0 and "column POWIAT" in shown.stderr and "powiat Kraków" in shown.stdout
    mapping = tmp_path / "m.yaml"
    mapping.write_text("theme: trees\nfields:\n  species: {from: POWIAT}\n")
    run_load(shp, city=CITY, theme="trees", mapping_path=mapping, settings=settings)
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT species FROM data.trees ORDER BY 1").fetchall() == [
            ("powiat Kraków",),
            ("powiat gdański",),
        ]


def test_letters_lost_at_source_are_flagged(tmp_path):
    gpd.GeoDataFrame({"NAZWA": ["dolno?l?skie", "opolskie"]}, geometry=[Point(637000, 486000)] * 2, crs=2180).to_file(
        tmp_path / "w.gpkg"
    )
    assert any("'?' where letters belong" in w and "dolno?l?skie" in w for w in read(tmp_path / "w.gpkg").warnings)


def test_a_refused_load_is_kept_not_current_and_the_line_says_how_to_look(tmp_path, db_url):
    """Storage keeps a refused version (finished, not current, with its rejects); the CLI names it in one line."""
    env = {"SDI_DATABASE_URL": db_url}
    assert (
        run_sdi(
            "load", str(_lines(tmp_path / "l.gpkg", 4)), "--city", CITY, "--theme", "cycle_paths", env=env
        ).returncode
        == 0
    )
    report = tmp_path / "r.json"
    result = run_sdi(
        "load",
        str(_points(tmp_path / "p.gpkg", 3)),
        "--city",
        CITY,
        "--theme",
        "cycle_paths",
        "--report",
        str(report),
        env=env,
    )
    assert result.returncode == 5 and result.stderr.count("\n") == 1, result.stderr
    load_id = json.loads(report.read_text())["guard"]["load_id"]
    assert f"sdi rejects --city {CITY} --theme cycle_paths --load {load_id}" in result.stderr
    with psycopg.connect(db_url) as conn:
        current = conn.execute(
            "SELECT load_id FROM sdi.layers WHERE city = %s AND theme = 'cycle_paths'", [CITY]
        ).fetchone()[0]
    assert current != load_id and _current(db_url, "cycle_paths") == 4
    shown = run_sdi("rejects", "--city", CITY, "--theme", "cycle_paths", "--load", str(load_id), env=env)
    assert shown.returncode == 0 and shown.stdout.count("does not fit theme cycle_paths") == 3, shown.stdout
