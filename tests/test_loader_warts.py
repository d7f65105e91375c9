"""Municipal warts end to end through `sdi load`: encodings, CRS, GML axes, zips, formats, rejects, versions."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import zipfile

import geopandas as gpd
import numpy as np
import psycopg
import pytest
from shapely.geometry import Point

from sdi.pipeline import run_load

from conftest import SDI, run_sdi

CITY = "1465011"
NAMES = ["Świętokrzyska", "Łąkowa", "Źródlana", "Żeromskiego"]


def _points(n=4, x0=638_000.0, y0=486_000.0):
    return [Point(x0 + 10 * i, y0 + 10 * i) for i in range(n)]


def _services(tmp_path, name="uslugi", crs=2180, **kw):
    frame = gpd.GeoDataFrame({"name": NAMES, "service_type": ["library"] * 4}, geometry=_points(), crs=crs)
    path = tmp_path / f"{name}.shp"
    frame.to_file(path, **kw)
    return path


def _names(db_url, theme="public_services"):
    with psycopg.connect(db_url) as conn:
        return sorted(r[0] for r in conn.execute(f"SELECT name FROM data.{theme}"))


@pytest.mark.parametrize(
    "encoding, cpg", [("cp1250", None), ("iso8859-2", None), ("cp1250", "ANSI 1250"), ("cp1250", "1250")]
)
def test_polish_text_comes_out_right(settings, db_url, tmp_path, encoding, cpg):
    path = _services(tmp_path, encoding=encoding)
    for f in tmp_path.glob("*.cpg"):
        f.unlink()
    if cpg:
        path.with_suffix(".CPG").write_text(cpg)
    report = run_load(path, city=CITY, theme="public_services", settings=settings)
    assert _names(db_url) == sorted(NAMES)
    assert report.encoding_source == ("cpg" if cpg else "detected")


def test_zip_three_folders_deep_without_prj_or_cpg(settings, db_url, tmp_path):
    x, y = 7_487_000.0, 5_787_000.0  # Warsaw in PUWG 2000 zone 7
    path = _services(tmp_path, crs=None, encoding="cp1250")
    gpd.GeoDataFrame({"name": NAMES, "service_type": ["library"] * 4}, geometry=_points(x0=x, y0=y)).to_file(
        path, encoding="cp1250"
    )
    archive = tmp_path / "paczka.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for f in tmp_path.glob("uslugi.*"):
            if f.suffix not in (".prj", ".cpg"):
                z.write(f, f"a/b/c/{f.name}")
    report = run_load(archive, city=CITY, theme="public_services", settings=settings)
    assert (report.crs, report.crs_source) == ("EPSG:2178", "detected from coordinates")
    assert report.encoding_source == "detected" and _names(db_url) == sorted(NAMES)


def test_coordinates_outside_poland_name_the_right_crs(settings, tmp_path):
    path = tmp_path / "zone7.gpkg"
    gpd.GeoDataFrame({"name": NAMES}, geometry=_points(x0=7_487_000, y0=5_787_000), crs=2180).to_file(path)
    result = run_sdi(
        "load",
        str(path),
        "--city",
        CITY,
        "--theme",
        "public_services",
        env={"SDI_DATABASE_URL": settings.database_url, "SDI_HOME": str(tmp_path)},
    )
    assert result.returncode == 3
    assert (
        "coordinates lie outside Poland in EPSG:2180; they look like EPSG:2178 (PUWG 2000 zone 7)" in result.stderr
    ) and "--crs EPSG:2178" in result.stderr


@pytest.mark.parametrize(
    "srs, swap",
    [("EPSG:2180", False), ("urn:ogc:def:crs:EPSG::2180", True), ("http://www.opengis.net/def/crs/EPSG/0/2180", True)],
)
def test_gml_axis_order_follows_the_srsname(settings, db_url, tmp_path, srs, swap):
    x, y = 638_000.0, 486_000.0
    pos = f"{y} {x}" if swap else f"{x} {y}"
    path = tmp_path / "uslugi.gml"
    path.write_text(
        f"""<?xml version="1.0" encoding="UTF-8"?>
<ogr:FeatureCollection xmlns:ogr="http://ogr.maptools.org/" xmlns:gml="http://www.opengis.net/gml/3.2"
  gml:id="fc"><ogr:featureMember><ogr:uslugi gml:id="u1">
  <ogr:geometryProperty><gml:Point gml:id="p1" srsName="{srs}">\
<gml:pos>{pos}</gml:pos></gml:Point></ogr:geometryProperty>
  <ogr:name>Biblioteka Łąkowa</ogr:name><ogr:service_type>library</ogr:service_type>
</ogr:uslugi></ogr:featureMember></ogr:FeatureCollection>""",
        encoding="utf-8",
    )
    run_load(path, city=CITY, theme="public_services", settings=settings)
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT ST_X(geom)::int, ST_Y(geom)::int FROM data.public_services").fetchone() == (x, y)


def test_stray_point_at_zero_zero_and_null_geometry_are_rejected_with_reasons(settings, db_url, tmp_path):
    frame = gpd.GeoDataFrame(
        {"name": NAMES + ["Zero", "Brak"], "service_type": ["library"] * 6},
        geometry=_points() + [Point(0, 0), None],
        crs=2180,
    )
    path = tmp_path / "warts.gpkg"
    frame.to_file(path)
    # 2 of 8 rejected is over the 5% that the load guard publishes without being told (issue 15)
    report = run_load(path, city=CITY, theme="public_services", settings=settings, accept_rejects=True)
    assert report.reject_reasons == {"null or empty geometry": 1, "lies outside Poland": 1}
    export = tmp_path / "odrzucone.gpkg"
    env = {"SDI_DATABASE_URL": settings.database_url, "SDI_HOME": str(tmp_path)}
    listed = run_sdi("rejects", "--city", CITY, "--theme", "public_services", env=env)
    assert "lies outside Poland" in listed.stdout and "Zero" in listed.stdout
    assert (
        run_sdi("rejects", "--city", CITY, "--theme", "public_services", "--export", str(export), env=env).returncode
        == 0
    )
    back = gpd.read_file(export)
    assert sorted(back["sdi_reason"]) == ["lies outside Poland", "null or empty geometry"]
    assert back.crs.to_epsg() == 2180 and (back.geometry.x.dropna() == 0).all()


@pytest.mark.parametrize("kind", ["csv_wkt", "csv_xy", "filegdb", "kml", "geojson_z"])
def test_other_formats(settings, db_url, tmp_path, kind):
    points = gpd.GeoDataFrame({"name": NAMES, "service_type": ["library"] * 4}, geometry=_points(), crs=2180)
    if kind == "csv_wkt":
        path = tmp_path / "uslugi.csv"
        path.write_text(
            "name;service_type;WKT\n"
            + "".join(f"{n};library;{g.wkt}\n" for n, g in zip(NAMES, points.geometry, strict=True)),
            encoding="utf-8",
        )
        path.write_text(path.read_text().replace(";", ","))
    elif kind == "csv_xy":
        path = tmp_path / "uslugi.csv"
        path.write_text(
            "name,service_type,x,y\n"
            + "".join(f"{n},library,{g.x},{g.y}\n" for n, g in zip(NAMES, points.geometry, strict=True)),
            encoding="utf-8",
        )
    elif kind == "filegdb":
        path = tmp_path / "uslugi.gdb"
        points.to_file(path, driver="OpenFileGDB", layer="uslugi")
    elif kind == "kml":
        path = tmp_path / "uslugi.kml"
        points.rename(columns={"name": "Name"}).to_crs(4326).to_file(path, driver="KML")
    else:
        path = tmp_path / "uslugi.geojson"
        points.set_geometry(
            gpd.points_from_xy(points.geometry.x, points.geometry.y, z=np.full(4, 100.0)), crs=2180
        ).to_crs(4326).to_file(path, driver="GeoJSON")
    report = (
        run_load(path, city=CITY, theme="public_services", mapping_path=None, settings=settings)
        if kind != "kml"
        else None
    )
    if kind == "kml":
        mapping = tmp_path / "kml.yaml"
        mapping.write_text("theme: public_services\nfields:\n  name: Name\n  service_type: {value: library}\n")
        report = run_load(path, city=CITY, theme="public_services", mapping_path=mapping, settings=settings)
    assert report.features_loaded == 4, report.reject_reasons
    assert _names(db_url) == sorted(NAMES)
    if kind == "geojson_z":
        assert report.repairs == {"z_dropped": 4}


def test_history_rollback_and_report(settings, db_url, tmp_path):
    env = {"SDI_DATABASE_URL": settings.database_url, "SDI_HOME": str(tmp_path)}
    first = _services(tmp_path)
    report_file = tmp_path / "report.json"
    assert (
        run_sdi(
            "load", str(first), "--city", CITY, "--theme", "public_services", "--report", str(report_file), env=env
        ).returncode
        == 0
    )
    report = json.loads(report_file.read_text())
    for key in (
        "load_id",
        "city",
        "theme",
        "source",
        "encoding",
        "encoding_source",
        "crs",
        "crs_source",
        "features_read",
        "features_loaded",
        "features_rejected",
        "geometries_repaired",
        "rejects",
        "warnings",
        "duration_s",
    ):
        assert key in report
    assert set(report["source"]) >= {"path", "sha256", "layer"} and len(report["source"]["sha256"]) == 64
    smaller = tmp_path / "mniej.gpkg"
    gpd.read_file(first).head(2).to_file(smaller)
    dry = run_sdi("load", str(smaller), "--city", CITY, "--theme", "public_services", "--dry-run", env=env)
    assert dry.returncode == 0 and len(_names(db_url)) == 4
    run_sdi("load", str(smaller), "--city", CITY, "--theme", "public_services", env=env)
    assert len(_names(db_url)) == 2
    versions = json.loads(run_sdi("history", "--city", CITY, "--theme", "public_services", "--json", env=env).stdout)
    assert [v["feature_count"] for v in versions] == [2, 4] and versions[0]["current"]
    rolled = run_sdi("rollback", "--city", CITY, "--theme", "public_services", "--to", str(report["load_id"]), env=env)
    assert rolled.returncode == 0 and len(_names(db_url)) == 4
    wrong = run_sdi(
        "rollback", "--city", "1261011", "--theme", "public_services", "--to", str(report["load_id"]), env=env
    )
    assert wrong.returncode == 2 and "is not a version" in wrong.stderr


def test_inspect_shows_detection_without_a_database(tmp_path):
    path = _services(tmp_path, encoding="cp1250")
    for f in tmp_path.glob("*.cpg"):
        f.unlink()
    result = run_sdi("inspect", str(path), "--json", env={"SDI_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/x"})
    assert result.returncode == 0, result.stderr
    layer = json.loads(result.stdout)["layers"][0]
    assert layer["features"] == 4 and layer["encoding_source"] == "detected"
    assert layer["crs"] == "EPSG:2180" and "Świętokrzyska" in layer["fields"]["name"]["samples"]
    minx, miny, maxx, maxy = layer["extent_lonlat"]
    assert 20.9 < minx < 21.1 and 52.1 < miny < 52.3


def test_a_killed_load_leaves_the_previous_version_and_the_next_load_succeeds(settings, db_url, tmp_path):
    env = {**os.environ, "SDI_DATABASE_URL": db_url, "SDI_HOME": str(tmp_path)}
    small = _services(tmp_path)
    run_load(small, city=CITY, theme="public_services", settings=settings)
    n = 300_000
    rng = np.random.default_rng(1)
    big = gpd.GeoDataFrame(
        {"name": ["Biblioteka"] * n, "service_type": ["library"] * n},
        geometry=gpd.points_from_xy(rng.uniform(630_000, 645_000, n), rng.uniform(480_000, 495_000, n)),
        crs=2180,
    )
    big_path = tmp_path / "duzo.gpkg"
    big.to_file(big_path)
    proc = subprocess.Popen(
        [SDI, "load", str(big_path), "--city", CITY, "--theme", "public_services"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    with psycopg.connect(db_url, autocommit=True) as conn:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            copying = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE %s AND state = 'active'",
                ['COPY "history"."public_services#%'],
            ).fetchone()[0]  # the load's own table
            if copying:
                break
            time.sleep(0.05)
        assert copying and proc.poll() is None, "the load finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        time.sleep(0.5)
        assert conn.execute("SELECT count(*) FROM data.public_services").fetchone()[0] == 4
        assert conn.execute("SELECT count(*) FROM sdi.loads").fetchone()[0] == 1
    report = run_load(small, city=CITY, theme="public_services", settings=settings)
    assert report.load_id is not None and len(_names(db_url)) == 4


def test_real_repair_stations_without_prj_are_detected_as_puwg2000_zone7(shared_data, settings):
    report = run_load(
        shared_data / "warszawa_rowery/stacje_napraw.shp",
        city=CITY,
        theme="public_services",
        mapping_path=None,
        dry_run=True,
        settings=settings,
    )
    assert (report.crs, report.crs_source) == ("EPSG:2178", "detected from coordinates")
    assert report.features_read == 264


def test_curves_are_linearised_and_counted(settings, db_url, tmp_path):
    path = tmp_path / "luk.gml"
    path.write_text(
        """<?xml version="1.0" encoding="UTF-8"?>
<ogr:FeatureCollection xmlns:ogr="http://ogr.maptools.org/" xmlns:gml="http://www.opengis.net/gml/3.2" gml:id="fc">
<ogr:featureMember><ogr:drogi gml:id="d1"><ogr:geometryProperty>
<gml:Curve gml:id="c1" srsName="EPSG:2180"><gml:segments><gml:Arc>
<gml:posList>638000 486000 638050 486050 638100 486000</gml:posList></gml:Arc></gml:segments></gml:Curve>
</ogr:geometryProperty><ogr:name>ul. Łukowa</ogr:name><ogr:road_class>G</ogr:road_class></ogr:drogi></ogr:featureMember>
<ogr:featureMember><ogr:drogi gml:id="d2"><ogr:geometryProperty>
<gml:LineString gml:id="l2" srsName="EPSG:2180"><gml:posList>638000 486100 638100 486100</gml:posList></gml:LineString>
</ogr:geometryProperty><ogr:name>ul. Prosta</ogr:name><ogr:road_class>G</ogr:road_class></ogr:drogi></ogr:featureMember>
</ogr:FeatureCollection>""",
        encoding="utf-8",
    )
    report = run_load(path, city=CITY, theme="roads", settings=settings)
    # GDAL hands both features over as curve types (the layer mixes an arc with a line), so both count.
    assert report.features_loaded == 2 and report.repairs.get("curves_linearised") == 2
    with psycopg.connect(db_url) as conn:
        points = conn.execute("SELECT ST_NPoints(geom) FROM data.roads WHERE name = 'ul. Łukowa'").fetchone()[0]
    assert points > 10  # the arc became many short segments


def _bad_inputs(tmp_path):
    good = _services(tmp_path)
    slip = tmp_path / "slip.zip"
    with zipfile.ZipFile(slip, "w") as z:
        for f in tmp_path.glob("uslugi.*"):
            z.write(f, f"../../{f.name}")
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("dane/zera.gml", b"\0" * (3 * 1024 * 1024))
        for f in tmp_path.glob("uslugi.*"):
            z.write(f, f"dane/{f.name}")
    empty = tmp_path / "pusty.zip"
    zipfile.ZipFile(empty, "w").close()
    truncated = tmp_path / "uciete.shp"
    truncated.write_bytes(good.read_bytes()[:-40])
    for ext in (".shx", ".dbf"):
        truncated.with_suffix(ext).write_bytes(good.with_suffix(ext).read_bytes())
    noise = tmp_path / "szum.shp"
    noise.write_bytes(np.random.default_rng(0).bytes(1024))
    for ext in (".shx", ".dbf"):
        noise.with_suffix(ext).write_bytes(good.with_suffix(ext).read_bytes())
    no_dbf = tmp_path / "bez_dbf.shp"
    no_dbf.write_bytes(good.read_bytes())
    no_dbf.with_suffix(".shx").write_bytes(good.with_suffix(".shx").read_bytes())
    return {
        "zip slip": ([str(slip)], "points outside the archive"),
        "zip bomb": ([str(bomb)], "over the limit of 2 MB"),
        "empty zip": ([str(empty)], "the zip is empty"),
        "truncated shp": ([str(truncated)], "truncated"),
        "random bytes": ([str(noise)], "not a shapefile"),
        "missing dbf": ([str(no_dbf)], ".dbf"),
        "unknown theme": ([str(good), "--theme", "drogi"], "unknown theme 'drogi'"),
        "invalid teryt": ([str(good), "--city", "14650111"], "7-digit TERYT"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "zip slip",
        "zip bomb",
        "empty zip",
        "truncated shp",
        "random bytes",
        "missing dbf",
        "unknown theme",
        "invalid teryt",
    ],
)
def test_bad_input_one_line_no_traceback_database_untouched(settings, db_url, tmp_path, case):
    args, expected = _bad_inputs(tmp_path)[case]
    path, *extra = args
    options = {"--city": CITY, "--theme": "public_services"}
    for flag, value in zip(extra[::2], extra[1::2], strict=True):
        options[flag] = value
    env = {"SDI_DATABASE_URL": db_url, "SDI_HOME": str(tmp_path), "SDI_MAX_UNZIPPED_MB": "2"}
    result = run_sdi("load", path, *[x for kv in options.items() for x in kv], env=env)
    assert result.returncode not in (0, 70), result.stderr
    assert expected in result.stderr and "Fix:" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not list(tmp_path.parent.glob("uslugi.*")) and not list(tmp_path.parent.parent.glob("uslugi.*"))
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM sdi.loads").fetchone()[0] == 0


def test_a_second_load_of_the_same_city_and_theme_waits_for_the_first(settings, db_url, tmp_path):
    path = _services(tmp_path)
    env = {**os.environ, "SDI_DATABASE_URL": db_url, "SDI_HOME": str(tmp_path)}
    with psycopg.connect(db_url) as holder:
        # Stand in for a first load that is still writing: hold the same (city, theme) lock.
        holder.execute(
            "SELECT pg_advisory_xact_lock(hashtext('sdi.loader.load'), hashtext(%s))", [f"{CITY}:public_services"]
        )
        proc = subprocess.Popen(
            [SDI, "load", str(path), "--city", CITY, "--theme", "public_services"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        with psycopg.connect(db_url, autocommit=True) as watcher:
            deadline, waiting = time.monotonic() + 60, 0
            while time.monotonic() < deadline and not waiting and proc.poll() is None:
                waiting = watcher.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'advisory' AND pid <> pg_backend_pid()"
                ).fetchone()[0]
                time.sleep(0.1)
            assert waiting and proc.poll() is None, "the second load did not wait"
            assert watcher.execute("SELECT count(*) FROM sdi.loads").fetchone()[0] == 0
        holder.rollback()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert len(_names(db_url)) == 4


def test_real_files_crs_and_layers(shared_data, settings, db_url):
    d = shared_data
    okolice = run_load(
        d / "warszawa_rowery/Warszawa-Okolice.shp", city=CITY, theme="cycle_paths", dry_run=True, settings=settings
    )
    assert okolice.crs == "EPSG:2178" and okolice.crs_source.startswith("prj")
    assert okolice.encoding_source == "cpg"
    panstwo = run_load(
        d / "prg_panstwo/Panstwo.shp",
        city="0000000",
        theme="administrative_units",
        dry_run=True,
        mapping_path=None,
        settings=settings,
    )
    assert panstwo.crs == "EPSG:2180"
    # The zip holds a PDF beside two GML files; the layer is picked by name, the columns by their PRG names.
    zipped = run_load(
        d / "prg_adresy/PRG-punkty_adresowe.zip",
        city="0802011",
        theme="address_points",
        layer="AD_PunktAdresowy",
        settings=settings,
    )
    assert zipped.features_loaded == 3 and zipped.crs_source == "gml srsName"
    assert not list(d.rglob("*.gfs")), "GDAL wrote .gfs files into the shared data"
