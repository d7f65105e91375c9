"""Paging a big result: sdi's next links are a keyset (`after=<last fid>`), so deep pages cost one index range.

A result is big when its count is not cheap (numberMatched is left out); small results keep pygeoapi's
offset links and their numberMatched.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import geopandas as gpd
import numpy as np
import pytest
import requests

from sdi.core.settings import Settings
from sdi.pipeline import run_load

from conftest import fresh_database, running_api

N = 3_000


@pytest.fixture(scope="module")
def api(server_url, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("paging")
    rng = np.random.default_rng(3)
    frame = gpd.GeoDataFrame(
        {
            "name": [f"Biblioteka {i}" for i in range(N)],
            "service_type": ["library"] * N,
            "capacity": rng.integers(1, 500, N),
        },
        geometry=gpd.points_from_xy(rng.uniform(630_000, 645_000, N), rng.uniform(480_000, 495_000, N)),
        crs=2180,
    )
    frame.to_file(tmp / "uslugi.gpkg")
    with fresh_database(server_url) as db_url:
        run_load(
            tmp / "uslugi.gpkg",
            city="1465011",
            theme="public_services",
            settings=Settings(home=tmp / "home", database_url=db_url),
        )
        with running_api(db_url, tmp / "home") as base:
            yield base


def _pages(url: str, params: dict | None) -> tuple[list[int], list[str]]:
    fids, nexts = [], []
    while url:
        body = requests.get(url, params=params, timeout=30).json()
        fids += [f["id"] for f in body["features"]]
        url = next((link["href"] for link in body["links"] if link["rel"] == "next"), None)
        params = None  # the next link carries every parameter
        nexts.append(url)
    return fids, [n for n in nexts if n]


def test_a_big_filtered_result_pages_by_keyset_and_loses_nothing(api):
    # the planner expects about 3,000 matches, so the count is skipped and the result is "big"
    fids, nexts = _pages(
        f"{api}/collections/public_services/items",
        {"f": "json", "limit": 700, "filter": "capacity > 0", "filter-lang": "cql2-text"},
    )
    assert len(fids) == N and fids == sorted(fids) and len(set(fids)) == N
    assert len(nexts) == 4 and all("after=" in n and "offset=" not in n for n in nexts)
    query = parse_qs(urlparse(nexts[0]).query)
    assert query["filter"] == ["capacity > 0"] and query["limit"] == ["700"] and query["after"] == [str(fids[699])]


def test_a_small_result_keeps_offset_links_and_its_count(api):
    body = requests.get(
        f"{api}/collections/public_services/items",
        params={"f": "json", "limit": 10, "filter": "capacity < 3", "filter-lang": "cql2-text"},
        timeout=30,
    ).json()
    assert "numberMatched" in body
    nexts = [link["href"] for link in body["links"] if link["rel"] == "next"]
    assert all("offset=" in n and "after=" not in n for n in nexts)


@pytest.mark.parametrize(
    "params, says",
    [
        ({"after": "x"}, "whole number"),
        ({"after": "5", "sortby": "name"}, "cannot be combined"),
        ({"after": "5", "bbox": "20,50,21,51"}, "cannot be combined"),
    ],
)
def test_bad_keysets_are_refused(api, params, says):
    answer = requests.get(f"{api}/collections/public_services/items", params={"f": "json", **params}, timeout=10)
    assert answer.status_code == 400 and says in answer.json()["description"]


def test_after_alone_starts_after_that_fid(api):
    body = requests.get(
        f"{api}/collections/public_services/items", params={"f": "json", "limit": 5, "after": 1000}, timeout=10
    ).json()
    assert [f["id"] for f in body["features"]] == [1001, 1002, 1003, 1004, 1005] and "numberMatched" not in body
