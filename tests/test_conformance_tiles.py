"""OGC API Tiles Part 1 (20-057, Annex A): one test per abstract test of the classes /conformance declares.

Each reads the API over HTTP; the tiles are decoded by GDAL's MVT driver. One server for the whole module.
"""

from __future__ import annotations

import math
import subprocess

import pytest
import requests
from conformance_common import get, served_sample

MVT = "application/vnd.mapbox-vector-tile"
T = "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/"


@pytest.fixture(scope="module")
def api(server_url, tmp_path_factory):
    with served_sample(server_url, tmp_path_factory.mktemp("conf_tiles")) as base:
        yield base


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def _centre(api) -> tuple[float, float]:
    """A place with roads and buildings: the first public service of the sample gmina."""
    first = get(api, "collections/public_services/items", limit=1).json()["features"][0]
    return tuple(first["geometry"]["coordinates"])


def test_ats_core_conformance(api):
    classes = set(get(api, "conformance").json()["conformsTo"])
    assert {T + c for c in ("core", "tileset", "tilesets-list", "geodata-tilesets", "mvt", "oas30")} <= classes


def test_ats_core_tc_op(api):
    lon, lat = _centre(api)
    x, y = _tile_of(lon, lat, 14)
    assert (
        requests.get(
            f"{api}/collections/roads/tiles/WebMercatorQuad/14/{y}/{x}", params={"f": "mvt"}, timeout=10
        ).status_code
        == 200
    )
    # a tile with no data is 204, as /req/core/tc-success allows
    assert (
        requests.get(
            f"{api}/collections/roads/tiles/WebMercatorQuad/14/0/0", params={"f": "mvt"}, timeout=10
        ).status_code
        == 204
    )


def test_ats_core_tc_success(api, tmp_path):
    lon, lat = _centre(api)
    x, y = _tile_of(lon, lat, 13)
    r = requests.get(f"{api}/collections/buildings/tiles/WebMercatorQuad/13/{y}/{x}", params={"f": "mvt"}, timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"] == MVT
    (tmp_path / "t.pbf").write_bytes(r.content)
    info = subprocess.run(
        ["ogrinfo", "-al", "-so", "-oo", "Z=13", "-oo", f"X={x}", "-oo", f"Y={y}", str(tmp_path / "t.pbf")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "Layer name: buildings" in info and int(info.split("Feature Count: ")[1].split()[0]) > 0


@pytest.mark.parametrize(
    "path, status",
    [
        ("WebMercatorQuad/30/0/0", 404),
        ("WebMercatorQuad/2/4/0", 404),
        ("WebMercatorQuad/2/0/-1", 404),
        ("WebMercatorQuad/x/0/0", 404),
        ("WorldCRS84Quad/0/0/0", 404),
        ("WorldCRS84Quad", 404),
        ("nothing", 404),
    ],
)
def test_ats_core_tc_error(api, path, status):
    r = requests.get(f"{api}/collections/roads/tiles/{path}", params={"f": "mvt"}, timeout=10)
    assert r.status_code == status and r.headers["Content-Type"].startswith("application/json")
    assert r.json()["status"] == status


def test_ats_tileset_tileset_success(api):
    doc = get(api, "collections/roads/tiles/WebMercatorQuad").json()
    assert doc["dataType"] == "vector" and doc["crs"].endswith("/EPSG/0/3857")
    assert doc["tileMatrixSetURI"].endswith("/WebMercatorQuad")
    assert any("{tileMatrix}" in link["href"] and link["rel"] == "item" for link in doc["links"])


def test_ats_tilesets_list_tilesets_list_success(api):
    doc = get(api, "collections/roads/tiles").json()
    assert doc["tilesets"] and all(t["dataType"] == "vector" and t["links"] for t in doc["tilesets"])


def test_ats_geodata_tilesets_collection_tilesets_list(api):
    for c in get(api, "collections").json()["collections"]:
        rels = {link["rel"] for link in c["links"]}
        assert "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector" in rels, c["id"]


def test_ats_mvt_mvt_content(api, tmp_path):
    lon, lat = _centre(api)
    x, y = _tile_of(lon, lat, 15)
    r = requests.get(f"{api}/collections/roads/tiles/WebMercatorQuad/15/{y}/{x}", params={"f": "mvt"}, timeout=10)
    (tmp_path / "t.pbf").write_bytes(r.content)
    info = subprocess.run(
        ["ogrinfo", "-al", "-oo", "Z=15", "-oo", f"X={x}", "-oo", f"Y={y}", str(tmp_path / "t.pbf")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "road_class (String) = " in info


def test_ats_oas30_tiles_paths(api):
    paths = get(api, "openapi", f="json").json()["paths"]
    for theme in ("roads", "buildings"):
        assert f"/collections/{theme}/tiles" in paths and f"/collections/{theme}/tiles/{{tileMatrixSetId}}" in paths
        tile = paths[f"/collections/{theme}/tiles/{{tileMatrixSetId}}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}"]["get"]
        assert MVT in tile["responses"]["200"]["content"] and "404" in tile["responses"]
