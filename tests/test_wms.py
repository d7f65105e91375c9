"""The WMS at /wms: real QGIS Server 3.22 behind nginx under `sdi serve`, read with OWSLib and GDAL's WMS driver.

The sample gmina plus a restricted theme (a water main) is served; every answer is checked against the
themes' own styles (styles/*.qml), the extent of the data and the access rules.
"""

from __future__ import annotations

import re
import subprocess

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import requests
from owslib.wms import WebMapService
from rasterio.io import MemoryFile
from shapely.geometry import LineString

from sdi.core.sample import SAMPLE_CITY
from sdi.pipeline import run_load

from conftest import ROOT, fresh_database, load_sample, running_api

RESTRICTED = "utility_networks"
PUBLIC = ["buildings", "public_services", "roads"]
BOX_3857 = (2298965, 6599317, 2300918, 6600868)  # the sample gmina in Web Mercator


@pytest.fixture(scope="module")
def wms(server_url, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wms")
    with fresh_database(server_url) as db_url:
        settings = load_sample(tmp, db_url)
        pipes = gpd.GeoDataFrame(
            {"network": ["water"], "diameter_mm": [160]},
            geometry=[LineString([(616300, 335700), (616900, 335700)])],
            crs=2180,
        )
        pipes.to_file(tmp / "sieci.gpkg")
        run_load(tmp / "sieci.gpkg", city=SAMPLE_CITY, theme=RESTRICTED, settings=settings)
        with running_api(db_url, tmp / "home") as base:
            yield base


def _colours(theme: str) -> set[tuple[int, int, int]]:
    text = (ROOT / "styles" / f"{theme}.qml").read_text(encoding="utf-8")
    return {
        tuple(int(v) for v in m.split(",")[:3])
        for m in re.findall(r'name="(?:line_color|color)" value="(\d+,\d+,\d+),255"', text)
    }


def _pixels(png: bytes) -> np.ndarray:
    with MemoryFile(png) as mem, mem.open() as img:
        return img.read()  # bands, rows, cols: RGBA


def test_capabilities_list_every_public_theme_with_extent_and_inspire_and_never_a_restricted_one(wms):
    service = WebMapService(f"{wms}/wms", version="1.3.0")
    names = set(service.contents)
    assert set(PUBLIC) <= names, names
    assert RESTRICTED not in names and not any(RESTRICTED in n for n in names)
    assert service["roads"].title == "Drogi / Roads"
    west, south, east, north = service["roads"].boundingBoxWGS84
    assert 20.6 < west < east < 20.7 and 50.8 < south < north < 50.9
    assert "EPSG:2180" in service["roads"].crsOptions and "EPSG:3857" in service["roads"].crsOptions
    caps = requests.get(f"{wms}/wms", params={"SERVICE": "WMS", "REQUEST": "GetCapabilities"}, timeout=30).text
    assert "inspire_vs:ExtendedCapabilities" in caps and "<inspire_common:Language>pol" in caps
    assert RESTRICTED not in caps
    one_city = WebMapService(f"{wms}/wms/{SAMPLE_CITY}", version="1.3.0")
    assert set(PUBLIC) <= set(one_city.contents)
    # the project comes from the path only: a client's MAP cannot open another file
    probe = requests.get(
        f"{wms}/wms", params={"SERVICE": "WMS", "REQUEST": "GetCapabilities", "MAP": "/etc/passwd"}, timeout=30
    )
    assert probe.status_code == 200 and "root:" not in probe.text
    assert requests.get(f"{wms}/wms/../etc", timeout=30).status_code in (400, 404)


@pytest.mark.parametrize("crs", ["EPSG:2180", "EPSG:3857"])
def test_getmap_draws_roads_in_their_style_colours_and_leaves_the_rest_transparent(wms, crs):
    service = WebMapService(f"{wms}/wms", version="1.3.0")
    layer = service["roads"]
    box = [b for b in layer.crs_list if b[4] == crs] if hasattr(layer, "crs_list") else []
    bbox = tuple(box[0][:4]) if box else None
    assert bbox, f"no {crs} bounding box in the capabilities"
    img = service.getmap(
        layers=["roads"], styles=[""], srs=crs, bbox=bbox, size=(512, 512), format="image/png", transparent=True
    )
    rgba = _pixels(img.read())
    alpha = rgba[3]
    assert (alpha == 0).mean() > 0.5, "most of the map should be transparent (no features there)"
    drawn = rgba[:3, alpha == 255].T
    assert len(drawn) > 500, "the roads were not drawn"
    found = {tuple(int(v) for v in px) for px in drawn} & _colours("roads")
    assert found, "no pixel in the colours of styles/roads.qml"


def test_getfeatureinfo_answers_with_the_feature_attributes(wms):
    service = WebMapService(f"{wms}/wms", version="1.3.0")
    west, south, east, north = service["roads"].boundingBoxWGS84
    # a 3x3 km window in lon/lat around every road: query each pixel row until a road is hit
    params = {
        "SERVICE": "WMS",
        "VERSION": "1.3.0",
        "REQUEST": "GetFeatureInfo",
        "CRS": "CRS:84",
        "BBOX": f"{west},{south},{east},{north}",
        "WIDTH": 200,
        "HEIGHT": 200,
        "LAYERS": "roads",
        "QUERY_LAYERS": "roads",
        "INFO_FORMAT": "application/json",
        "FEATURE_COUNT": 5,
        "FI_LINE_TOLERANCE": 10,
    }
    names = set()
    for j in range(0, 200, 8):
        body = requests.get(f"{wms}/wms", params={**params, "I": 100, "J": j}, timeout=30).json()
        names |= {f["properties"].get("name") for f in body.get("features", [])}
    assert any(n and n.startswith("ul. ") for n in names), names


def test_getlegendgraphic_returns_the_classes(wms):
    body = requests.get(
        f"{wms}/wms",
        params={
            "SERVICE": "WMS",
            "VERSION": "1.3.0",
            "REQUEST": "GetLegendGraphic",
            "LAYER": "roads",
            "FORMAT": "application/json",
        },
        timeout=30,
    ).json()
    titles = [s["title"] for node in body["nodes"] for s in node.get("symbols", [])]
    assert "gminna / municipal" in titles and "krajowa / national" in titles
    png = requests.get(
        f"{wms}/wms",
        params={
            "SERVICE": "WMS",
            "VERSION": "1.3.0",
            "REQUEST": "GetLegendGraphic",
            "LAYER": "roads",
            "FORMAT": "image/png",
        },
        timeout=30,
    )
    assert png.headers["Content-Type"].startswith("image/png") and _pixels(png.content).shape[1] > 50


def test_gdal_wms_driver_reads_the_map(wms, tmp_path):
    out = tmp_path / "roads.tif"
    url = (
        f"WMS:{wms}/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=roads,buildings&CRS=EPSG:3857"
        f"&BBOX={','.join(map(str, BOX_3857))}&FORMAT=image/png&TRANSPARENT=TRUE"
    )
    done = subprocess.run(
        ["gdal_translate", "-q", "-outsize", "400", "400", url, str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    with rasterio.open(out) as img:
        rgba = img.read()
    assert rgba.shape[0] == 4 and (rgba[3] == 255).sum() > 200, "GDAL read an empty map"


def test_a_load_rewrites_only_the_projects_it_changes(server_url, tmp_path):
    """At 2,477 cities a load must not rewrite every city's project: only its city's and all.qgs."""
    from sdi.server.wms import write_projects

    with fresh_database(server_url) as db_url:
        settings = load_sample(tmp_path, db_url)
        other = "1465011"
        roads = gpd.read_file(tmp_path / "sample" / "drogi.shp").head(3).to_crs(2180)
        x0, y0 = roads.total_bounds[:2]
        roads.geometry = roads.geometry.translate(638000 - x0, 486000 - y0)
        roads.to_file(tmp_path / "ulice.gpkg")  # three of the sample's streets, moved to Warsaw
        run_load(tmp_path / "ulice.gpkg", city=other, theme="roads", settings=settings)
        folder = tmp_path / "wms"
        folder.mkdir()
        names = write_projects(settings, folder, "http://127.0.0.1:5000")
        assert names == ["all.qgs", f"{other}.qgs", f"{SAMPLE_CITY}.qgs"]
        before = {n: (folder / n).stat().st_mtime_ns for n in names}
        write_projects(settings, folder, "http://127.0.0.1:5000")  # nothing changed: nothing written
        assert {n: (folder / n).stat().st_mtime_ns for n in names} == before
        run_load(tmp_path / "ulice.gpkg", city=other, theme="roads", settings=settings)  # a new version
        write_projects(settings, folder, "http://127.0.0.1:5000")
        after = {n: (folder / n).stat().st_mtime_ns for n in names}
        assert after[f"{SAMPLE_CITY}.qgs"] == before[f"{SAMPLE_CITY}.qgs"]
        assert after["all.qgs"] != before["all.qgs"] and after[f"{other}.qgs"] != before[f"{other}.qgs"]
        write_projects(settings, folder, "http://other.example")  # a new public URL: every project
        assert all((folder / n).stat().st_mtime_ns != after[n] for n in names)
