"""Bulk downloads at scale (issue 17): streamed in batches, whole and in fid order, typed by the theme's columns,
and written beside the server, which answers before the files exist and links each one once it is renamed in."""

from __future__ import annotations

import dataclasses
import time
from datetime import date

import geopandas as gpd
import pyogrio
import pytest
import requests
from shapely.geometry import Point

from sdi.core.catalogue import open_catalogue
from sdi.core.sample import SAMPLE_CITY
from sdi.core.settings import Settings
from sdi.pipeline import run_load
from sdi.server import collection_links, downloads
from sdi.server.datasets import ALL, published

from conftest import fresh_database, load_sample, running_api

TREES = 11  # more than three batches of BATCH_IN_TEST rows
BATCH_IN_TEST = 3


@pytest.fixture(scope="module")
def loaded(server_url, tmp_path_factory):
    """The sample gmina, plus trees whose first batch is NULL in the number, boolean and date columns."""
    tmp = tmp_path_factory.mktemp("downloads")
    with fresh_database(server_url) as db_url:
        settings = load_sample(tmp, db_url)
        late = [i >= BATCH_IN_TEST + 1 for i in range(TREES)]
        trees = gpd.GeoDataFrame(
            {
                "species": [f"Tilia cordata {i}" for i in range(TREES)],
                "trunk_circumference_cm": [120.5 + i if x else None for i, x in enumerate(late)],
                "nature_monument": [i % 2 == 0 if x else None for i, x in enumerate(late)],
                "survey_date": [date(2024, 5, 1 + i) if x else None for i, x in enumerate(late)],
            },
            geometry=[Point(616300 + 10 * i, 335700 + 5 * i) for i in range(TREES)],
            crs=2180,
        )
        trees.to_file(tmp / "drzewa.gpkg")
        run_load(tmp / "drzewa.gpkg", city=SAMPLE_CITY, theme="trees", settings=settings)
        yield settings, db_url, tmp


def _trees(settings: Settings):
    with open_catalogue(settings) as conn:
        return next(d for d in published(conn, settings) if (d.city, d.theme) == (SAMPLE_CITY, "trees"))


def test_a_data_set_of_several_batches_is_whole_in_fid_order_and_typed_by_its_theme(loaded, tmp_path):
    settings, _, _ = loaded
    ds = _trees(settings)
    target = tmp_path / "trees.gpkg"
    with open_catalogue(settings) as conn:
        written = downloads._write(conn, ds, target, batch=BATCH_IN_TEST)
        fids = [r[0] for r in conn.execute("SELECT fid FROM data.trees WHERE city = %s ORDER BY fid", [SAMPLE_CITY])]
    info = pyogrio.read_info(target)
    assert written == info["features"] == TREES == len(fids)
    assert info["fid_column"] == "fid" and info["crs"] == "EPSG:2180" and info["geometry_type"] == "Point"
    types = dict(zip(info["fields"], info["dtypes"], strict=True))
    # the first batch held only NULLs in these: the fields still have the theme's types, not text
    assert types["trunk_circumference_cm"] == "float64" and types["nature_monument"] == "bool"
    assert types["survey_date"].startswith("datetime64") and types["species"] == "object"
    assert "load_id" not in types and "city" in types
    frame = pyogrio.read_dataframe(target, fid_as_index=True)
    assert list(frame.index) == fids, "the file's features are not the data set's, in fid order"
    assert list(frame["species"]) == [f"Tilia cordata {i}" for i in range(TREES)]
    assert frame["trunk_circumference_cm"].isna().sum() == BATCH_IN_TEST + 1
    assert frame["trunk_circumference_cm"].iloc[-1] == 120.5 + TREES - 1
    assert str(frame["survey_date"].iloc[-1].date()) == f"2024-05-{TREES:02d}"
    assert not list(tmp_path.glob(".*")), "a temporary file was left beside the download"


def test_an_empty_data_set_gets_a_file_with_the_themes_fields(loaded, tmp_path):
    settings, _, _ = loaded
    empty = dataclasses.replace(_trees(settings), loads=[])  # no load: no row
    with open_catalogue(settings) as conn:
        assert downloads._write(conn, empty, tmp_path / "empty.gpkg", batch=BATCH_IN_TEST) == 0
    info = pyogrio.read_info(tmp_path / "empty.gpkg")
    assert info["features"] == 0 and dict(zip(info["fields"], info["dtypes"], strict=True))["nature_monument"] == "bool"


def _wait_for_round(before: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while downloads.progress() == before:
        assert time.monotonic() < deadline, "the download writer did not finish"
        time.sleep(0.1)


def test_refresh_queues_the_files_and_links_only_those_that_exist(loaded, tmp_path):
    _, db_url, _ = loaded
    settings = Settings(home=tmp_path / "home", database_url=db_url)
    with open_catalogue(settings) as conn:
        found = published(conn, settings)
        queued = downloads.refresh(settings, found)
        vectors = [d for d in found if not d.raster]
        assert queued == len(vectors) > 0
        assert not list(downloads.folder(settings).rglob("*.gpkg")), "refresh wrote a file: the caller waited"
        assert not any(d.downloads for d in found)
        assert not [x for x in collection_links.for_theme("trees", found, settings, "") if x["rel"] == "enclosure"]
        # A serve parent started long ago: its last hand-over is old, yet the first file must not end a round.
        downloads._QUEUE.handed -= 120
        _wait_for_round(downloads.progress())  # progress() starts the writer, as the serve loop's poll does
        again = published(conn, settings)
        assert downloads.refresh(settings, again) == 0, "files written once are queued again"
    files = sorted(downloads.folder(settings).rglob("*.gpkg"))
    assert len(files) == len(vectors) and not [f for f in files if f.name.startswith(".")]
    links = [x for x in collection_links.for_theme("trees", again, settings, "") if x["rel"] == "enclosure"]
    expected = {"/downloads/trees/trees_PL.gpkg", f"/downloads/trees/trees_{SAMPLE_CITY}.gpkg"}
    assert {x["href"] for x in links} == expected
    for x in links:
        assert x["length"] == (downloads.folder(settings) / x["href"].removeprefix("/downloads/")).stat().st_size
    national = next(d for d in again if (d.city, d.theme) == (ALL, "trees"))
    assert pyogrio.read_info(downloads.folder(settings) / "trees/trees_PL.gpkg")["features"] == national.count


def test_sdi_serve_answers_before_the_files_are_written_then_links_them(loaded, tmp_path):
    """From a home with no download file: the API answers, links only files that exist, then links them all."""
    _, db_url, _ = loaded
    home = tmp_path / "home"
    with running_api(db_url, home) as base:
        seen, deadline = [], time.monotonic() + 90
        while time.monotonic() < deadline:
            doc = requests.get(f"{base}/collections/trees?f=json", timeout=30)
            assert doc.status_code == 200
            files = [x for x in doc.json()["links"] if x["rel"] == "enclosure"]
            for x in files:  # never a missing or half-written file: its length is the served file's
                head = requests.head(x["href"], timeout=10)
                assert head.status_code == 200 and int(head.headers["Content-Length"]) == x["length"], x
                assert head.headers["Content-Type"] == x["type"] == "application/geopackage+sqlite3"
            seen.append(len(files))
            if len(files) == 2:
                break
            time.sleep(0.3)
        assert seen[-1] == 2, f"the GeoPackages were never linked: {seen}"
        assert (home / "downloads" / "trees" / f"trees_{SAMPLE_CITY}.gpkg").exists()
        feed = requests.get(f"{base}/metadata/atom.xml", timeout=10)
        deadline = time.monotonic() + 30
        while f"/downloads/trees/trees_{SAMPLE_CITY}.gpkg" not in feed.text and time.monotonic() < deadline:
            time.sleep(0.5)  # the records follow the API's configuration in the same poll, a moment later
            feed = requests.get(f"{base}/metadata/atom.xml", timeout=10)
        assert f"/downloads/trees/trees_{SAMPLE_CITY}.gpkg" in feed.text
        assert feed.headers["Content-Type"] == "application/atom+xml"
        log = (home / "serve.log").read_text()  # the files linked: said as such, not as a change of the catalogue
        assert "download files written: regenerating the configuration" in log, log[-2000:]
        assert "the catalogue changed" not in log, log[-2000:]
