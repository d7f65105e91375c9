"""Publish end to end: load, start `sdi serve` (real pygeoapi under gunicorn), read the API over HTTP."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import psycopg
import pytest
import requests
from shapely.geometry import Point

from sdi.core.sample import SAMPLE_CITY
from sdi.pipeline import run_load
from sdi.server.openapi import external_refs

from conftest import SDI, free_port, running_api, sample_api, wait_for_http


@pytest.fixture(scope="module")
def served(server_url, tmp_path_factory):
    """One `sdi serve` of the sample gmina for the tests that only read (15 s a start): (base URL, database)."""
    with sample_api(server_url, tmp_path_factory.mktemp("serve")) as found:
        yield found


@pytest.fixture
def api(served) -> str:
    return served[0]


@pytest.fixture
def api_db(served) -> str:
    return served[1]


@pytest.fixture
def own_api(settings, sample, db_url, tmp_path):
    """A server of its own, for a test that changes the catalogue."""
    for theme, path in sample.items():
        run_load(path, city=SAMPLE_CITY, theme=theme, settings=settings)
    with running_api(db_url, tmp_path / "home") as base:
        yield base


def test_collections_list_every_loaded_theme(api):
    body = requests.get(f"{api}/collections", params={"f": "json"}, timeout=10).json()
    ids = {c["id"] for c in body["collections"]}
    assert ids == {"roads", "buildings", "public_services"}
    roads = next(c for c in body["collections"] if c["id"] == "roads")
    minx, miny, maxx, maxy = roads["extent"]["spatial"]["bbox"][0]
    assert 20.5 < minx < maxx < 20.8 and 50.8 < miny < maxy < 50.95


def test_items_are_geojson_in_lon_lat_with_city(api):
    body = requests.get(f"{api}/collections/public_services/items", params={"f": "json"}, timeout=10).json()
    assert body["numberMatched"] == 6 and len(body["features"]) == 6
    feature = body["features"][0]
    lon, lat = feature["geometry"]["coordinates"]
    assert 20.6 < lon < 20.7 and 50.85 < lat < 50.92  # lon first, not swapped
    assert feature["properties"]["city"] == SAMPLE_CITY
    assert feature["properties"]["fid"] == feature["id"]
    names = {f["properties"]["name"] for f in body["features"]}
    assert "Przedszkole Samorządowe „Słoneczko”" in names


def test_bbox_and_single_item(api):
    everything = requests.get(f"{api}/collections/buildings/items", params={"f": "json"}, timeout=10).json()
    lon, lat = everything["features"][0]["geometry"]["coordinates"][0][0][0]  # MultiPolygon
    bbox = f"{lon - 0.001},{lat - 0.001},{lon + 0.001},{lat + 0.001}"
    some = requests.get(f"{api}/collections/buildings/items", params={"f": "json", "bbox": bbox}, timeout=10).json()
    assert 0 < some["numberMatched"] < everything["numberMatched"]
    fid = some["features"][0]["id"]
    one = requests.get(f"{api}/collections/buildings/items/{fid}", params={"f": "json"}, timeout=10)
    assert one.status_code == 200 and one.json()["id"] == fid
    missing = requests.get(f"{api}/collections/buildings/items/999999", params={"f": "json"}, timeout=10)
    assert missing.status_code == 404


def test_html_page_shows_a_map(api):
    page = requests.get(f"{api}/collections/roads/items", params={"f": "html"}, timeout=10)
    assert page.status_code == 200
    html = page.content.decode("utf-8")  # the page declares UTF-8 in <meta>, not in its Content-Type
    assert "L.map('items-map')" in html and "ul. Świętokrzyska" in html


def test_health_reports_database_and_catalogue_without_secrets(api, api_db):
    r = requests.get(f"{api}/health", timeout=10)
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["database"] == "ok" and body["themes"] == 3
    assert body["catalogue_version"] >= 2
    password = psycopg.conninfo.conninfo_to_dict(api_db).get("password")
    assert password and password not in r.text


def test_collections_show_provenance_per_city(api, api_db):
    """The description tells what the data set holds (how many features, from how many cities, as of when;
    issue 19), not the load log: no source file names or load records."""
    with psycopg.connect(api_db) as conn:
        loaded = conn.execute(
            "SELECT d.loaded_at FROM sdi.layers l JOIN sdi.loads d USING (load_id) WHERE l.theme = 'roads'"
        ).fetchone()[0]
    count = requests.get(f"{api}/collections/roads/items", params={"f": "json", "limit": 1}, timeout=10).json()[
        "numberMatched"
    ]
    en = requests.get(f"{api}/collections/roads", params={"f": "json", "lang": "en"}, timeout=10).json()
    pl = requests.get(f"{api}/collections/roads", params={"f": "json", "lang": "pl"}, timeout=10).json()
    assert count > 0
    assert f" {count} features from 1 municipality, as of {loaded:%Y-%m-%d}." in en["description"]
    assert f" {count} obiekt" in pl["description"] and f"z 1 gminy, stan na {loaded:%Y-%m-%d}." in pl["description"]
    for text in (en["description"], pl["description"]):
        assert "drogi.shp" not in text and "Latest loads" not in text and SAMPLE_CITY not in text


def test_a_load_while_serving_appears_without_restart(own_api, settings, tmp_path):
    api = own_api
    trees = gpd.GeoDataFrame(
        {"species": ["Tilia cordata", "Quercus robur"]},
        geometry=[Point(640_000, 340_000), Point(640_010, 340_010)],
        crs=2180,
    )
    trees.to_file(tmp_path / "drzewa.gpkg")
    run_load(tmp_path / "drzewa.gpkg", city=SAMPLE_CITY, theme="trees", settings=settings)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ids = {
            c["id"] for c in requests.get(f"{api}/collections", params={"f": "json"}, timeout=10).json()["collections"]
        }
        if "trees" in ids:
            break
        time.sleep(0.5)
    assert "trees" in ids, "the new theme did not appear within 30 s"
    items = requests.get(f"{api}/collections/trees/items", params={"f": "json"}, timeout=10).json()
    assert items["numberMatched"] == 2


def test_city_filter_sortby_and_properties(api):
    r = requests.get(
        f"{api}/collections/public_services/items",
        params={"f": "json", "city": SAMPLE_CITY, "sortby": "-capacity", "properties": "name,capacity"},
        timeout=10,
    ).json()
    capacities = [f["properties"].get("capacity") for f in r["features"]]
    assert capacities[0] == 510 and set(r["features"][0]["properties"]) == {"fid", "name", "capacity"}
    none = requests.get(
        f"{api}/collections/public_services/items", params={"f": "json", "city": "1465011"}, timeout=10
    ).json()
    assert none["numberMatched"] == 0
    q = requests.get(f"{api}/collections/public_services/queryables", params={"f": "json"}, timeout=10).json()
    assert "kindergarten" in q["properties"]["service_type"]["enum"]


def test_conformance_claims_only_what_works(api):
    classes = requests.get(f"{api}/conformance", params={"f": "json"}, timeout=10).json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs" in classes
    assert not any("features-4" in c for c in classes)  # read-only
    assert "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text" in classes
    assert not any("temporal-functions" in c for c in classes)  # only in CQL2-JSON so far


def test_owslib_reads_collections_queryables_and_filtered_items(api):
    from owslib.ogcapi.features import Features

    client = Features(api)
    ids = {c["id"] for c in client.collections()["collections"]}
    assert {"roads", "buildings", "public_services"} <= ids
    queryables = client.collection_queryables("roads")["properties"]
    assert "road_class" in queryables and "municipal" in queryables["road_class"]["enum"]
    items = client.collection_items("roads", city=SAMPLE_CITY, road_class="district", limit=50)
    assert [f["properties"]["name"] for f in items["features"]] == ["ul. Świętokrzyska"]


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.log(math.tan(math.radians(lat)) + 1 / math.cos(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


@pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="gdal-bin is installed by `make setup`")
def test_vector_tiles_hold_the_theme_with_its_attributes(api, tmp_path):
    meta = requests.get(f"{api}/collections/roads/tiles", params={"f": "json"}, timeout=10)
    assert meta.status_code == 200 and "WebMercatorQuad" in meta.text
    x, y = _tile_of(20.66, 50.88, 15)
    tile = requests.get(f"{api}/collections/roads/tiles/WebMercatorQuad/15/{y}/{x}", params={"f": "mvt"}, timeout=10)
    assert tile.status_code == 200 and tile.headers["Content-Type"] == "application/vnd.mapbox-vector-tile"
    path = tmp_path / "tile.pbf"
    path.write_bytes(tile.content)
    info = subprocess.run(
        ["ogrinfo", "-al", "-oo", "Z=15", "-oo", f"X={x}", "-oo", f"Y={y}", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "Layer name: roads" in info and "road_class (String) = " in info
    assert int(info.split("Feature Count: ")[1].split()[0]) > 0
    empty = requests.get(f"{api}/collections/roads/tiles/WebMercatorQuad/15/0/0", params={"f": "mvt"}, timeout=10)
    assert empty.status_code == 204


def test_openapi_document_validates(api):
    from pygeoapi.openapi import validate_openapi_document

    doc = requests.get(f"{api}/openapi", params={"f": "json"}, timeout=30).json()
    assert validate_openapi_document(doc) is True
    assert "/collections/roads/items" in doc["paths"] and "/collections/roads/tiles" in str(doc["paths"])
    # Self-contained: nothing points to schemas.opengis.net, which offline clients cannot reach.
    assert external_refs(doc) == [] and "schemas.opengis.net" not in str(doc)


def test_schemathesis_finds_no_server_error(api, tmp_path):
    # Property-based requests from the OpenAPI document against every operation, valid and invalid ones
    # (--mode all): no 5xx, and every answer matches the schema documented for its status. A fixed seed
    # keeps CI repeatable (run the same `st run` by hand with another seed to explore more).
    st = Path(sys.executable).with_name("st")
    out = subprocess.run(
        [
            str(st),
            "run",
            f"{api}/openapi?f=json",
            "--checks",
            "not_a_server_error,response_schema_conformance",
            "--mode",
            "all",
            "--max-examples",
            "25",
            "--workers",
            "2",
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
    tested = int(out.stdout.split("Tested: ")[1].split()[0])
    assert tested >= 25  # every collection's items, item, queryables, tiles, plus the landing pages


def test_stopping_sdi_serve_stops_gunicorn_too(db_url, tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SDI_")}
    env.update(SDI_DATABASE_URL=db_url, SDI_HOME=str(tmp_path / "home"))
    proc = subprocess.Popen(
        [SDI, "serve", "--port", str(port), "--workers", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_http(f"http://127.0.0.1:{port}/collections?f=json", proc)
    children = _descendants(proc.pid)
    names = {Path(f"/proc/{pid}/comm").read_text().strip() for pid in children}
    assert "nginx" in names and any("gunicorn" in _cmdline(pid) for pid in children), names
    proc.terminate()
    assert proc.wait(timeout=30) is not None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in children):
        time.sleep(0.2)
    left = [_cmdline(pid) for pid in children if Path(f"/proc/{pid}").exists()]
    assert not left, f"still running after sdi serve was terminated: {left}"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}/", timeout=1)
        except requests.ConnectionError:
            break  # nothing listens any more: gunicorn went with it
        time.sleep(0.2)
    else:
        raise AssertionError("nginx or gunicorn still answers after sdi serve was terminated")


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _descendants(pid: int) -> list[int]:
    """Every process below pid: nginx and gunicorn masters and their workers."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    found, frontier = [], [pid]
    while frontier:
        children = [p for p, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found
