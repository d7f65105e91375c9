"""Positions through the API and through GDAL's OAPIF driver, for every output CRS, against known lon/lat."""

from __future__ import annotations

import json
import shutil
import subprocess

import geopandas as gpd
import pytest
import requests
from pyproj import Transformer
from shapely.geometry import Point

from sdi.core.settings import Settings
from sdi.pipeline import run_load

from conftest import fresh_database, running_api

# Known places, lon/lat (WGS 84), in Warsaw, Kraków and Łódź.
PLACES = {"Pałac Kultury i Nauki": (21.006111, 52.231667), "Wawel": (19.935, 50.054), "Manufaktura": (19.4500, 51.7800)}
EPSG = "http://www.opengis.net/def/crs/EPSG/0/"


@pytest.fixture(scope="module")
def api(server_url, tmp_path_factory):
    """Three known places, written as a shapefile in PUWG 2000 zone 7, loaded and served."""
    tmp = tmp_path_factory.mktemp("crs")
    with fresh_database(server_url) as db_url:
        yield from _serve_places(db_url, tmp)


def _serve_places(db_url, tmp):
    to_2178 = Transformer.from_crs(4326, 2178, always_xy=True)
    frame = gpd.GeoDataFrame(
        {"name": list(PLACES), "service_type": ["library"] * 3},
        geometry=[Point(*to_2178.transform(*ll)) for ll in PLACES.values()],
        crs=2178,
    )
    frame.to_file(tmp / "miejsca.shp")
    run_load(
        tmp / "miejsca.shp",
        city="1465011",
        theme="public_services",
        settings=Settings(home=tmp / "home", database_url=db_url),
    )
    with running_api(db_url, tmp / "home") as base:
        yield base


def _positions(api, **params):
    r = requests.get(f"{api}/collections/public_services/items", params={"f": "json", **params}, timeout=10)
    assert r.status_code == 200, r.text
    return {f["properties"]["name"]: f["geometry"]["coordinates"] for f in r.json()["features"]}, r.headers


def test_crs84_is_lon_lat(api):
    got, headers = _positions(api)
    for name, (lon, lat) in PLACES.items():
        assert got[name] == pytest.approx([lon, lat], abs=1e-7)


def test_epsg_4326_is_lat_lon(api):
    got, headers = _positions(api, crs=f"{EPSG}4326")
    assert headers["Content-Crs"] == f"<{EPSG}4326>"
    for name, (lon, lat) in PLACES.items():
        assert got[name] == pytest.approx([lat, lon], abs=1e-7)


@pytest.mark.parametrize("code", [2180, 2178, 3857])
def test_projected_output_follows_the_axis_order_of_its_definition(api, code):
    got, _ = _positions(api, crs=f"{EPSG}{code}")
    to = Transformer.from_crs(4326, code, always_xy=True)
    for name, lonlat in PLACES.items():
        easting, northing = to.transform(*lonlat)
        expected = [easting, northing] if code == 3857 else [northing, easting]  # PUWG: northing first
        assert got[name] == pytest.approx(expected, abs=0.01)


def test_bbox_crs_in_puwg1992_selects_by_northing_easting(api):
    e, n = Transformer.from_crs(4326, 2180, always_xy=True).transform(*PLACES["Wawel"])
    bbox = f"{n - 50},{e - 50},{n + 50},{e + 50}"
    got, _ = _positions(api, bbox=bbox, **{"bbox-crs": f"{EPSG}2180"})
    assert list(got) == ["Wawel"]
    got, _ = _positions(api, bbox="19.93,50.05,19.94,50.06")
    assert list(got) == ["Wawel"]


def test_unsupported_crs_is_a_400(api):
    r = requests.get(f"{api}/collections/public_services/items", params={"f": "json", "crs": f"{EPSG}2100"}, timeout=10)
    assert r.status_code == 400 and "not supported" in r.text


@pytest.mark.skipif(shutil.which("ogr2ogr") is None, reason="gdal-bin is installed by `make setup`")
@pytest.mark.parametrize("t_srs", [None, "EPSG:2180"])
def test_gdal_places_every_feature_where_it_really_is(api, tmp_path, t_srs):
    # Debian 12's GDAL 3.6 reads OAPIF in CRS84 only (its CRS open option came in 3.7), so EPSG:2180 is
    # checked by letting GDAL reproject what it read: the positions must still agree within 1 cm.
    out = tmp_path / "out.geojson"
    cmd = ["ogr2ogr", "-f", "GeoJSON", str(out), f"OAPIF:{api}/collections/public_services"]
    if t_srs:
        cmd += ["-t_srs", t_srs]
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)
    features = {f["properties"]["name"]: f["geometry"]["coordinates"] for f in json.loads(out.read_text())["features"]}
    assert set(features) == set(PLACES)
    for name, lonlat in PLACES.items():
        if t_srs:
            expected = Transformer.from_crs(4326, 2180, always_xy=True).transform(*lonlat)
            assert features[name][:2] == pytest.approx(list(expected), abs=0.01)
        else:
            assert features[name][:2] == pytest.approx(list(lonlat), abs=1e-7)


@pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="gdal-bin is installed by `make setup`")
def test_ogrinfo_reports_count_and_extent(api):
    out = subprocess.run(
        ["ogrinfo", "-so", "-al", f"OAPIF:{api}/collections/public_services"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    assert "Feature Count: 3" in out
    extent = out.split("Extent: ")[1].splitlines()[0]
    (minx, miny), (maxx, maxy) = [tuple(map(float, p.strip(" ()").split(","))) for p in extent.split(" - ")]
    # The extent is the lon/lat envelope of the EPSG:2180 extent's corners: it holds every feature.
    assert 19.40 < minx <= 19.45 and 52.2316 <= maxy < 52.26


@pytest.mark.parametrize("crs", ["EPSG:2180", "EPSG:2178", "EPSG:3857"])
def test_gdal_oapif_crs_open_option_gets_the_stored_positions(api, crs):
    # Debian's GDAL 3.6 lacks the CRS open option; the GDAL 3.12 inside pyogrio's wheel has it, and is a
    # real OAPIF client too. It asks the server for that CRS and must get every place right within 1 cm.
    import pyogrio

    frame = pyogrio.read_dataframe(f"OAPIF:{api}/collections/public_services", CRS=crs)
    assert frame.crs.to_epsg() == int(crs.split(":")[1])
    to_crs = Transformer.from_crs(4326, frame.crs, always_xy=True)
    for name, point in zip(frame["name"], frame.geometry, strict=True):
        expected = to_crs.transform(*PLACES[name])
        assert (point.x, point.y) == pytest.approx(expected, abs=0.01)
