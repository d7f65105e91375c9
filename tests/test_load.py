"""The load pipeline end to end against PostGIS: sample files, replacement, rejects, hostile names, errors."""

from __future__ import annotations

import geopandas as gpd
import psycopg
import pytest
import yaml
from shapely.geometry import LineString, Point, Polygon

from sdi.core.errors import InputError, LoadError
from sdi.core.sample import SAMPLE_CITY
from sdi.pipeline import run_load

from conftest import run_sdi


def _count(url, sql, *params):
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchone()[0]


def test_sample_themes_load_in_storage_crs_with_polish_text(settings, sample, db_url):
    for theme, path in sample.items():
        report = run_load(path, city=SAMPLE_CITY, theme=theme, settings=settings)
        assert report.features_rejected == 0
        assert report.features_loaded == report.features_read > 0
    with psycopg.connect(db_url) as conn:
        srids = {r[0] for r in conn.execute("SELECT DISTINCT ST_SRID(geom) FROM data.roads")}
        assert srids == {2180}
        # The gmina lies near Kielce: x (easting) about 6.4e5, y (northing) about 3.4e5 in PUWG 1992.
        x, y = conn.execute(
            "SELECT ST_X(ST_Centroid(ST_Collect(geom))), ST_Y(ST_Centroid(ST_Collect(geom))) FROM data.buildings"
        ).fetchone()
        assert 600_000 < x < 700_000 and 300_000 < y < 400_000
        names = {r[0] for r in conn.execute("SELECT name FROM data.roads")}
        assert "ul. Świętokrzyska" in names and "ul. Żeromskiego" in names
        assert conn.execute("SELECT count(DISTINCT city) FROM data.public_services").fetchone()[0] == 1


def test_reload_replaces_the_city_rows_and_keeps_other_cities(settings, sample, db_url):
    run_load(sample["roads"], city=SAMPLE_CITY, theme="roads", settings=settings)
    run_load(sample["roads"], city="1465011", theme="roads", settings=settings)
    run_load(sample["roads"], city=SAMPLE_CITY, theme="roads", settings=settings)
    assert _count(db_url, "SELECT count(*) FROM data.roads WHERE city = %s", SAMPLE_CITY) == 9
    assert _count(db_url, "SELECT count(*) FROM data.roads WHERE city = '1465011'") == 9
    assert _count(db_url, "SELECT count(*) FROM sdi.loads") == 3
    assert _count(db_url, "SELECT count(*) FROM sdi.layers") == 2


def test_a_failed_load_changes_nothing(settings, sample, db_url, tmp_path):
    run_load(sample["public_services"], city=SAMPLE_CITY, theme="public_services", settings=settings)
    before = _count(db_url, "SELECT max(load_id) FROM sdi.layers")
    # A capacity beyond bigint converts in Python but PostgreSQL refuses it, inside the load's transaction.
    frame = gpd.read_file(sample["public_services"])
    frame["capacity"] = "99999999999999999999999"
    bad = tmp_path / "bad.gpkg"
    frame.to_file(bad)
    with pytest.raises(LoadError, match="nothing was changed"):
        run_load(bad, city=SAMPLE_CITY, theme="public_services", settings=settings)
    assert _count(db_url, "SELECT count(*) FROM data.public_services") == 6
    assert _count(db_url, "SELECT max(load_id) FROM sdi.layers") == before
    assert _count(db_url, "SELECT count(*) FROM sdi.loads") == 1


def test_null_geometries_become_rejects_with_reasons_and_bowties_are_repaired(settings, db_url, tmp_path):
    bowtie = Polygon([(0, 0), (10, 10), (10, 0), (0, 10), (0, 0)])
    frame = gpd.GeoDataFrame({"parcel_id": ["1", "2", "3"]}, geometry=[Point(5, 5).buffer(3), None, bowtie], crs=2180)
    frame.geometry = frame.geometry.translate(640_000, 340_000)
    path = tmp_path / "parcels.gpkg"
    frame.to_file(path)
    report = run_load(path, city=SAMPLE_CITY, theme="parcels", settings=settings, accept_rejects=True)  # 1 of 3
    assert (report.features_loaded, report.features_rejected, report.geometries_repaired) == (2, 1, 1)
    with psycopg.connect(db_url) as conn:
        reason, props = conn.execute("SELECT reason, properties FROM sdi.rejects").fetchone()
        assert reason == "null or empty geometry" and props == {"parcel_id": "2"}
        assert conn.execute("SELECT bool_and(ST_IsValid(geom)) FROM data.parcels").fetchone()[0] is True
        kinds = {r[0] for r in conn.execute("SELECT GeometryType(geom) FROM data.parcels")}
        assert kinds == {"MULTIPOLYGON"}


def test_hostile_column_names_are_data_not_sql(settings, db_url, tmp_path):
    hostile = 'x"; DROP TABLE data.roads; --'
    frame = gpd.GeoDataFrame(
        {hostile: ["ul. Łąkowa"], "kat": ["gminna"]},
        geometry=[LineString([(640_000, 340_000), (640_100, 340_000)])],
        crs=2180,
    )
    path = tmp_path / "hostile.gpkg"
    frame.to_file(path)
    mapping = tmp_path / "hostile.yaml"
    mapping.write_text(yaml.safe_dump({"theme": "roads", "fields": {"name": hostile, "road_class": "kat"}}))
    report = run_load(path, city=SAMPLE_CITY, theme="roads", mapping_path=mapping, settings=settings)
    assert report.features_loaded == 1
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT name, road_class FROM data.roads").fetchone() == ("ul. Łąkowa", "municipal")


def test_missing_crs_is_detected_from_coordinates_or_refused_with_the_fix(settings, tmp_path):
    gpd.GeoDataFrame({"parcel_id": ["1"]}, geometry=[Point(640_000, 340_000)]).to_file(tmp_path / "puwg92.shp")
    report = run_load(tmp_path / "puwg92.shp", city=SAMPLE_CITY, theme="parcels", dry_run=True, settings=settings)
    assert (report.crs, report.crs_source) == ("EPSG:2180", "detected from coordinates")
    gpd.GeoDataFrame({"parcel_id": ["1"]}, geometry=[Point(3e7, 9e7)]).to_file(tmp_path / "nowhere.shp")
    with pytest.raises(InputError, match="--crs") as caught:
        run_load(tmp_path / "nowhere.shp", city=SAMPLE_CITY, theme="parcels", settings=settings)
    assert "--crs" in caught.value.fix
    report = run_load(
        tmp_path / "puwg92.shp", city=SAMPLE_CITY, theme="parcels", crs="EPSG:2180", dry_run=True, settings=settings
    )
    assert report.crs_source == "override"


@pytest.mark.parametrize(
    "args, expected",
    [
        (["nowhere.shp", "--city", SAMPLE_CITY, "--theme", "roads"], "no such file"),
        (["{sample}", "--city", "14650", "--theme", "roads"], "7-digit TERYT"),
        (["{sample}", "--city", SAMPLE_CITY, "--theme", "Roads; DROP"], "invalid theme id"),
    ],
)
def test_bad_input_gets_one_line_and_no_traceback(args, expected, sample, db_url, tmp_path):
    args = [a.replace("{sample}", str(sample["roads"])) for a in args]
    result = run_sdi("load", *args, env={"SDI_DATABASE_URL": db_url, "SDI_HOME": str(tmp_path)})
    assert result.returncode not in (0, 70)
    assert expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_several_layers_need_a_choice(settings, tmp_path):
    path = tmp_path / "two.gpkg"
    for name in ("drogi", "budynki"):
        gpd.GeoDataFrame(geometry=[Point(640_000, 340_000)], crs=2180).to_file(path, layer=name)
    with pytest.raises(InputError, match="drogi") as caught:
        run_load(path, city=SAMPLE_CITY, theme="roads", settings=settings)
    assert "--layer" in caught.value.fix
    # a dry run: a point stores nothing as a road, which a real load's guard would refuse (issue 15)
    report = run_load(path, city=SAMPLE_CITY, theme="roads", layer="budynki", settings=settings, dry_run=True)
    assert report.source["layer"] == "budynki"
