"""Rasters through the API: OGC API Coverages subsets equal the source pixels; previews; COGs over HTTP; QGIS.

Real pygeoapi under `sdi serve`, real GDAL (Debian's gdalinfo through /vsicurl/) and real QGIS 3.22.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
import requests
from pyproj import Transformer
from rasterio.windows import from_bounds
from test_qgis import _has_qgis, probe

from sdi.core.sample import SAMPLE_CITY, write_sample_rasters
from sdi.core.settings import STORAGE_CRS
from sdi.pipeline import run_load_raster
from sdi.server.coverage import MAX_PIXELS, SdiCoverageProvider
from sdi.server.openapi import external_refs

import raster_fixtures as fx
from conftest import SDI, fresh_database, load_sample, running_api

CITY = "1465011"  # the generated test rasters
EPSG_4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"


@pytest.fixture(scope="module")
def served(server_url, tmp_path_factory):
    """Test rasters of one city (an orthophoto in two tiles, a DEM in PUWG 2000 zone 6, a noise map), and the
    sample gmina with its vectors, elevation model and orthophoto, as in the demo; served."""
    tmp = tmp_path_factory.mktemp("coverages")
    with fresh_database(server_url) as db_url:
        settings = load_sample(tmp, db_url)
        for theme, path in write_sample_rasters(tmp / "sample").items():
            run_load_raster(path, city=SAMPLE_CITY, theme=theme, settings=settings)
        fx.orthophoto_pair(tmp / "ortho")
        sources = {
            "orthophoto": tmp / "ortho",
            "elevation": fx.dem(tmp / "nmt.tif"),
            "noise_map": fx.noise_map(tmp / "halas.tif"),
        }
        for theme, path in sources.items():
            run_load_raster(path, city=CITY, theme=theme, settings=settings)
        with running_api(db_url, tmp / "home") as base:
            yield base, db_url, tmp


def _covjson(base: str, theme: str, **params) -> dict:
    answer = requests.get(f"{base}/collections/{theme}/coverage", params={"f": "json", **params}, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _source_window(path, west, south, east, north, band=1) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read(band, window=from_bounds(west, south, east, north, transform=src.transform))


def test_raster_themes_are_coverage_collections(served):
    base, _, _ = served
    collections = {
        c["id"]: c for c in requests.get(f"{base}/collections", params={"f": "json"}, timeout=10).json()["collections"]
    }
    assert {"orthophoto", "elevation", "noise_map"} <= set(collections)
    rels = {link["rel"] for link in collections["elevation"]["links"]}
    assert "http://www.opengis.net/def/rel/ogc/1.0/coverage" in rels and {"preview", "enclosure"} <= rels
    # itemType tells clients (GDAL's OAPIF driver) that a raster collection is no vector layer (issue 14)
    assert collections["elevation"]["itemType"] == "coverage" and collections["roads"]["itemType"] == "feature"
    one = requests.get(f"{base}/collections/elevation", params={"f": "json"}, timeout=10).json()
    assert one["itemType"] == "coverage"
    # every 4xx of the coverages is a JSON exception document unless HTML was asked for
    for bad in ({"bbox": "a,b,c,d"}, {"properties": "nope"}, {"f": "nope"}):
        r = requests.get(f"{base}/collections/elevation/coverage", params=bad, timeout=30)
        assert 400 <= r.status_code < 500 and r.headers["Content-Type"].startswith("application/json"), bad
        assert r.json()["status"] == r.status_code


def test_the_openapi_document_with_coverages_validates_offline(served, tmp_path):
    from pygeoapi.openapi import validate_openapi_document

    base, _, _ = served
    doc = requests.get(f"{base}/openapi", params={"f": "json"}, timeout=30).json()
    assert validate_openapi_document(doc) is True and "/collections/elevation/coverage" in doc["paths"]
    assert external_refs(doc) == [] and "schemas.opengis.net" not in str(doc)
    st = Path(sys.executable).with_name("st")
    out = subprocess.run(
        check=False,
        args=[
            str(st),
            "run",
            f"{base}/openapi?f=json",
            "--checks",
            "not_a_server_error",
            "--mode",
            "all",
            "--include-path-regex",
            "coverage",
            "--max-examples",
            "25",
            "--seed",
            "1",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stdout[-3000:]


def test_a_coverage_subset_equals_the_source_pixels(served):
    base, _, tmp = served
    west, south, east, north = 636_200.0, 357_500.0, 636_400.0, 357_700.0  # 20 x 20 pixels of 10 m
    expected = _source_window(tmp / "halas.tif", west, south, east, north)
    # bbox-crs EPSG:2180 takes the CRS's own axis order: northing first
    by_bbox = _covjson(base, "noise_map", bbox=f"{south},{west},{north},{east}", **{"bbox-crs": STORAGE_CRS})
    by_subset = _covjson(base, "noise_map", subset=f"x({west}:{east}),y({south}:{north})")
    for cj in (by_bbox, by_subset):
        got = np.array(cj["ranges"]["lden_class"]["values"]).reshape(cj["ranges"]["lden_class"]["shape"])
        assert got.shape == (20, 20) and np.array_equal(got, expected)
        assert cj["domain"]["referencing"][0]["system"]["id"] == STORAGE_CRS


def test_a_lonlat_bbox_and_geotiff_output(served):
    base, _, tmp = served
    west, south, east, north = 636_020.0, 357_920.0, 636_160.0, 357_980.0  # inside the orthophoto's two tiles
    lon0, lat0 = Transformer.from_crs(2180, 4326, always_xy=True).transform(west, south)
    lon1, lat1 = Transformer.from_crs(2180, 4326, always_xy=True).transform(east, north)
    cj = _covjson(base, "orthophoto", bbox=f"{lat0},{lon0},{lat1},{lon1}", **{"bbox-crs": EPSG_4326})
    assert set(cj["ranges"]) == {"red", "green", "blue"}
    tiff = requests.get(
        f"{base}/collections/orthophoto/coverage",
        params={"f": "GTiff", "subset": f"x({west}:{east}),y({south}:{north})"},
        timeout=30,
    )
    assert tiff.status_code == 200 and tiff.headers["Content-Type"] == "image/tiff"
    with rasterio.open(io.BytesIO(tiff.content)) as got, rasterio.open(tmp / "ortho" / "ortho_w.tif") as src:
        assert got.count == 3 and got.width == 280 and got.height == 120
        assert np.array_equal(
            got.read()[:, :, :160], src.read(window=from_bounds(west, south, 636_100.0, north, transform=src.transform))
        )


def test_bad_coverage_requests_say_why(served):
    base, _, _ = served
    off = requests.get(
        f"{base}/collections/noise_map/coverage",
        params={"f": "json", "bbox": "636000,357200,637000,358000", "bbox-crs": STORAGE_CRS},
        timeout=10,
    )
    assert off.status_code == 400 and "northing first" in off.json()["description"]
    unknown = requests.get(
        f"{base}/collections/noise_map/coverage",
        params={"f": "json", "bbox": "1,2,3,4", "bbox-crs": "EPSG:nonsense"},
        timeout=10,
    )
    assert unknown.status_code == 400 and "unknown bbox-crs" in unknown.json()["description"]


def test_too_big_an_answer_is_refused_before_reading(tmp_path):
    big = tmp_path / "big.tif"
    with rasterio.open(
        big,
        "w",
        driver="GTiff",
        width=2100,
        height=2000,
        count=1,
        dtype="uint8",
        crs="EPSG:2180",
        transform=rasterio.transform.from_origin(*fx.ORTHO_ORIGIN, 1, 1),
        compress="deflate",
    ) as ds:
        ds.write(np.ones((1, 2000, 2100), dtype="uint8"))
    provider = SdiCoverageProvider(
        {"name": "big", "type": "coverage", "data": str(big), "format": {"name": "GTiff", "mimetype": "image/tiff"}}
    )
    with pytest.raises(Exception) as refused:
        provider.query(format_="json")
    assert refused.value.http_status_code == 413 and f"{MAX_PIXELS:,}" in refused.value.message
    assert provider.query(subsets={"x": [636_000, 636_100], "y": [357_900, 358_000]})["ranges"]["band 1"]["shape"] == [
        100,
        100,
    ]


def test_previews_are_pngs_on_the_collection_pages(served):
    base, _, _ = served
    png = requests.get(f"{base}/collections/noise_map/preview.png", timeout=30)
    assert png.status_code == 200 and png.headers["Content-Type"] == "image/png"
    west, south, east, north = map(float, png.headers["X-Bounds-Lonlat"].split(","))
    assert 14 < west < east < 24.2 and 49 < south < north < 55
    with rasterio.open(io.BytesIO(png.content)) as image:
        alpha = image.read(4)
    assert (alpha == 0).any() and (alpha == 255).mean() > 0.8  # the nodata edge is transparent, the rest drawn
    page = requests.get(f"{base}/collections/elevation", params={"f": "html"}, timeout=30).text
    assert '<section id="preview">' in page and "L.imageOverlay" in page


def test_the_cog_is_served_with_range_requests_for_gdal(served):
    base, _, _ = served
    url = f"{base}/rasters/orthophoto/{CITY}.tif"
    part = requests.get(url, headers={"Range": "bytes=0-1023"}, timeout=10)
    assert part.status_code == 206 and len(part.content) == 1024 and part.content[:2] == b"II"
    assert requests.get(f"{base}/rasters/orthophoto/2261011.tif", timeout=10).status_code == 404  # no such city
    info = subprocess.run(check=False, args=["gdalinfo", f"/vsicurl/{url}"], capture_output=True, text=True, timeout=60)
    assert info.returncode == 0, info.stderr
    assert "Size is 400, 200" in info.stdout and "LAYOUT=COG" in info.stdout and "ETRF2000-PL / CS92" in info.stdout


@pytest.mark.skipif(not _has_qgis(), reason="QGIS is installed by `make test` (python3-qgis)")
def test_qgis_opens_and_draws_the_rasters_of_the_project(served, tmp_path):
    base, db_url, _ = served
    out = tmp_path / "sdi.qgz"
    done = subprocess.run(
        check=False,
        args=[SDI, "qgis-project", str(out), "--url", base, "--city", SAMPLE_CITY],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SDI_DATABASE_URL": db_url},
    )
    assert done.returncode == 0, done.stderr
    picture = tmp_path / "rasters.jpg"  # JPEG: the orthophoto's texture makes a PNG of over a megabyte
    report = probe("project", str(out), str(picture))
    rasters = {lid: layer for lid, layer in report["layers"].items() if layer.get("type") == "raster"}
    assert set(rasters) == {f"sdi_layer_{t}_{SAMPLE_CITY}" for t in ("orthophoto", "elevation")}
    ortho = rasters[f"sdi_layer_orthophoto_{SAMPLE_CITY}"]
    assert ortho["valid"] and ortho["provider"] == "gdal" and ortho["source"].startswith("/vsicurl/http")
    assert (ortho["width"], ortho["height"], ortho["bands"], ortho["crs"]) == (2800, 2400, 3, "EPSG:2180")
    assert ortho["renderer"] == "multibandcolor" and ortho["painted_share"] > 0.95
    elevation = rasters[f"sdi_layer_elevation_{SAMPLE_CITY}"]
    assert elevation["painted_share"] > 0.85  # reprojected: empty corners
    assert elevation["renderer"] == "singlebandpseudocolor"  # along the theme's ramp, not QGIS's grey
    assert list(report["groups"])[-1] == "Rastry / Rasters"  # under every vector layer
    assert {lid for lid, layer in report["layers"].items() if layer.get("type") != "raster"} == {
        "sdi_layer_roads",
        "sdi_layer_buildings",
        "sdi_layer_public_services",
    }
    assert picture.stat().st_size > 50_000  # the orthophoto drawn under the town, not a blank page
    # the classes of a noise map in their legend colours
    classes = tmp_path / "classes.qgz"
    classes.write_bytes(requests.get(f"{base}/qgis-project", params={"city": CITY}, timeout=60).content)
    noise = probe("project", str(classes))["layers"][f"sdi_layer_noise_map_{CITY}"]
    assert noise["valid"] and noise["renderer"] == "paletted" and noise["painted_share"] > 0.9
    if os.environ.get("SDI_SCREENSHOTS"):  # `make screenshots` refreshes the README's pictures
        shutil.copy(picture, Path(__file__).resolve().parent.parent / "docs" / "qgis-rasters.jpg")
