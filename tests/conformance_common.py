"""What the conformance tests share: one served sample per module, and small readers of the API over HTTP."""

from __future__ import annotations

import contextlib
from pathlib import Path

import geopandas as gpd
import requests
from shapely.geometry import LineString, Polygon

from sdi.core.sample import SAMPLE_CITY
from sdi.pipeline import run_load

from conftest import fresh_database, load_sample, running_api

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG = "http://www.opengis.net/def/crs/EPSG/0/{}"
JSON = {"Accept": "application/json"}
#: (x1, y1, x2, y2) in EPSG:2180, easting first, of the diagonal road of DIAGONAL_CITY (Warsaw)
DIAGONAL = (630_000.0, 480_000.0, 640_000.0, 490_000.0)
DIAGONAL_CITY = "1465011"


@contextlib.contextmanager
def served_sample(server_url: str, tmp: Path):
    """The demo gmina, plus two land-use plans with dates and a diagonal road elsewhere, served."""
    with fresh_database(server_url) as db_url:
        settings = load_sample(tmp, db_url)
        square = Polygon([(640_000, 340_000), (640_100, 340_000), (640_100, 340_100), (640_000, 340_100)])
        plans = gpd.GeoDataFrame(
            {"plan_id": ["P1", "P2"], "designation": ["MN", "U"], "adopted_on": ["2020-01-15", "2024-06-01"]},
            geometry=[square, square],
            crs=2180,
        )
        plans.to_file(tmp / "plany.gpkg")
        run_load(tmp / "plany.gpkg", city=SAMPLE_CITY, theme="land_use_plans", settings=settings)
        # a second city's one road, a 14 km diagonal: most of its envelope is far from the road itself
        diagonal = gpd.GeoDataFrame(
            {"name": ["ul. Ukośna"], "road_class": ["municipal"]},
            geometry=[LineString([DIAGONAL[:2], DIAGONAL[2:]])],
            crs=2180,
        )
        diagonal.to_file(tmp / "ukosna.gpkg")
        run_load(tmp / "ukosna.gpkg", city=DIAGONAL_CITY, theme="roads", settings=settings)
        with running_api(db_url, tmp / "home") as base:
            yield base


def get(base: str, path: str, **params) -> requests.Response:
    """GET a path of the API as a JSON client."""
    return requests.get(f"{base}/{path.lstrip('/')}", params=params, headers=JSON, timeout=30)


def items(base: str, theme: str, **params) -> dict:
    """Every page of a query's items, following the next links, as one FeatureCollection."""
    r = get(base, f"collections/{theme}/items", limit=10000, **params)
    assert r.status_code == 200, r.text
    return r.json()
