"""The shipped RSPO mapping (config/mappings/rspo/public_services.yaml) names primary schools, so that the art. 13f
analysis of a city that loads the real RSPO file (OSM form, openstreetmap-polska/dane-rspo) finds them.

RSPO's OSM form says amenity=school for every school; the ISCED level (`isced:level`, "1;2" for a primary
school since the 2017 reform) tells them apart. Uses ../shared/data; skipped where it is absent.
"""

from __future__ import annotations

import json

import psycopg

from sdi.analysis import runs
from sdi.analysis.standards import parse
from sdi.core.catalogue import open_catalogue
from sdi.core.settings import Settings
from sdi.pipeline import run_load

from conftest import ROOT

RSPO = "rspo_szkoly/146510_Srodmiescie_dz.geojson"
BDOT = "bdot10k_gml_sample/PL.PZGiK.330.1465__OT_{}.xml"
MAPPINGS = ROOT / "config" / "mappings"
CITY = "1465011"


def _isced1(shared_data) -> set[str]:
    """The RSPO ids of the file's schools that teach ISCED level 1, read straight from the GeoJSON."""
    data = json.loads((shared_data / RSPO).read_text(encoding="utf-8"))
    return {
        str(f["properties"]["ref:rspo"])
        for f in data["features"]
        if "1" in str(f["properties"].get("isced:level") or "").split(";")
    }


def test_the_shipped_rspo_mapping_finds_the_primary_schools_and_the_analysis_reaches_them(
    shared_data, settings, admin_url, db_url
):
    dbname = psycopg.conninfo.conninfo_to_dict(db_url)["dbname"]
    with psycopg.connect(psycopg.conninfo.make_conninfo(admin_url, dbname=dbname), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pgrouting SCHEMA public")
    settings = Settings(home=settings.home, database_url=db_url)
    run_load(
        shared_data / RSPO,
        city=CITY,
        theme="public_services",
        settings=settings,
        mapping_path=MAPPINGS / "rspo/public_services.yaml",
    )
    for layer, theme in (("SKDR_L", "roads"), ("BUBD_A", "buildings")):
        run_load(
            shared_data / BDOT.format(layer),
            city=CITY,
            theme=theme,
            mapping_path=MAPPINGS / f"bdot10k/{theme}.yaml",
            settings=settings,
        )
    with open_catalogue(settings) as conn:
        types = dict(conn.execute("SELECT service_type, count(*) FROM data.public_services GROUP BY 1").fetchall())
        primary = {
            str(r[0])
            for r in conn.execute(
                "SELECT rspo_id FROM data.public_services WHERE service_type = %s", ["primary_school"]
            )
        }
        assert primary == _isced1(shared_data) and len(primary) == 31
        assert types["secondary_school"] == 60 and types["post_secondary_school"] == 49  # levels 3 and 4
        assert types["kindergarten"] == 52 and types.get("school", 0) == 7  # no level given: as before
        run_id = runs.submit(conn, parse({"city": CITY, "units": "buildings", "town": "town"}))
        runs.claim_next_id(conn, run_id)
        runs.execute(conn, run_id)
        reached, units = conn.execute(
            "SELECT count(school_m), count(*) FROM data.access_buildings WHERE run_id = %s", [run_id]
        ).fetchone()
        schools = conn.execute(
            "SELECT count(DISTINCT school_fid) FROM data.access_buildings WHERE run_id = %s", [run_id]
        ).fetchone()[0]
    assert units > 1000 and reached > 0.5 * units, (reached, units)  # the extract's residential buildings
    assert schools >= 10, schools  # many of the 31 schools are someone's nearest
