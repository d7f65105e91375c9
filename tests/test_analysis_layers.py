"""The analysis results as layers: the per-parcel results and the per-gmina and per-precinct summaries are
OGC API collections of `sdi serve` (real pygeoapi under gunicorn) that GDAL's OAPIF driver opens, coloured
met / not met / unreachable by the styles in styles/."""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import requests
import test_analysis
from test_analysis import _run, load_town

from sdi.core import catalogue
from sdi.core.catalogue import open_catalogue

from conftest import running_api

pgr_settings = test_analysis.pgr_settings  # the fixture: the test database with pgRouting
STYLES = Path(__file__).resolve().parent.parent / "styles"


def test_results_are_collections_of_the_api_that_gdal_opens(pgr_settings, db_url, tmp_path):
    load_town(tmp_path / "town", pgr_settings)
    with open_catalogue(pgr_settings) as conn:
        assert "access_standards" not in catalogue.published_themes(conn)  # no run yet: nothing to publish
    got = _run(pgr_settings, optional={"kindergarten": 800})
    assert got["P4"]["reason"]
    with open_catalogue(pgr_settings) as conn:
        themes = catalogue.published_themes(conn)
        assert {"access_standards", "access_summary", "roads"} <= set(themes)
        assert "access_standards" not in catalogue.published_themes(conn, raster=True)
    with running_api(db_url, tmp_path / "home") as base:
        about = requests.get(f"{base}/collections/access_standards?f=json&lang=pl", timeout=30).json()
        # titled as in the QGIS projects, its cities counted from its rows (a view has no loads)
        assert about["title"] == "Dostępność – działki", about
        assert "4 obiekty z 1 gminy" in about["description"], about["description"]
        about = requests.get(f"{base}/collections/access_standards?f=json&lang=en", timeout=30).json()
        assert about["title"] == "Access – parcels" and "4 features from 1 municipality" in about["description"]
        items = requests.get(f"{base}/collections/access_standards/items?f=json", timeout=30).json()
        assert "features" in items, (items, (tmp_path / "home" / "serve.log").read_text()[-3000:])
        status = {f["properties"]["parcel_id"]: f["properties"]["status"] for f in items["features"]}
        # P3 misses the kindergarten, P1 and P2 the school, P4 has no street within 500 m
        assert status == {"P1": "not_met", "P2": "not_met", "P3": "not_met", "P4": "unreachable"}
        one = next(f for f in items["features"] if f["properties"]["parcel_id"] == "P3")
        assert one["geometry"]["type"] == "MultiPolygon" and one["properties"]["school_ok"] is True
        assert (
            requests.get(f"{base}/collections/access_standards/items/{one['id']}?f=json", timeout=30).json()[
                "properties"
            ]["parcel_id"]
            == "P3"
        )
        summary = requests.get(f"{base}/collections/access_summary/items?f=json", timeout=30).json()
        rows = {(f["properties"]["level"], f["properties"]["area"]): f["properties"] for f in summary["features"]}
        assert rows[("gmina", "2699011")]["parcels"] == 4 and rows[("gmina", "2699011")]["all_standards"] == 0
        assert rows[("precinct", "0002")]["unreachable"] == 1 and rows[("precinct", "0001")]["parcels"] == 2
        ogr = subprocess.run(
            ["ogrinfo", "-ro", "-al", "-so", f"OAPIF:{base}", "access_standards"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert ogr.returncode == 0 and "Feature Count: 4" in ogr.stdout and "status" in ogr.stdout, ogr.stderr


def test_a_failed_run_leaves_the_published_results_of_the_last_good_one(pgr_settings, tmp_path):
    load_town(tmp_path / "town", pgr_settings)
    _run(pgr_settings)
    with open_catalogue(pgr_settings) as conn:
        before = conn.execute("SELECT run_id, count(*) FROM data.access_standards GROUP BY run_id").fetchall()
        conn.execute("INSERT INTO analysis.runs (city, status) VALUES ('2699011', 'failed')")
        conn.commit()
        assert conn.execute("SELECT run_id, count(*) FROM data.access_standards GROUP BY run_id").fetchall() == before
        assert (
            conn.execute("SELECT count(*) FROM data.access_summary WHERE run_id = %s", [before[0][0]]).fetchone()[0]
            == 3
        )  # the gmina and its two precincts


def test_the_result_styles_colour_each_status():
    # the units by distance class (migration 0017: met within half the limits, met, not met within 1.5x, beyond,
    # unreachable), the summaries' areas by status
    classes = ("met_half", "met", "not_met_near", "not_met_far", "unreachable")
    for name, attr, expected in (
        ("access_standards", "distance_class", classes),
        ("access_summary", "status", ("met", "not_met", "unreachable")),
    ):
        qml = ET.parse(STYLES / f"{name}.qml").getroot()
        renderer = qml.find("renderer-v2")
        assert renderer.get("attr") == attr
        values = {c.get("value") for c in renderer.iter("category")}
        assert set(expected) <= values
        sld = (STYLES / f"{name}.sld").read_text(encoding="utf-8")
        for value in expected:
            assert f"<se:Literal>{value}</se:Literal>" in sld or f"<ogc:Literal>{value}</ogc:Literal>" in sld
