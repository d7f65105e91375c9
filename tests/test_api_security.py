"""The API's walls (issue 16), attacked as the security test did: catalogue rows, paths, tokens, HTML, sizes.

Real PostGIS, real `sdi serve` (pygeoapi under gunicorn). Rows an attacker would plant are planted as the
owner, with the catalogue's own checks dropped first: the server must hold even when the database did not.
"""

from __future__ import annotations

import http.client
import json
import re
import socket

import geopandas as gpd
import psycopg
import psycopg.sql
import pytest
import requests
from shapely.geometry import LineString

from sdi.core import tokens
from sdi.core.catalogue import open_catalogue
from sdi.core.sample import SAMPLE_CITY, write_sample_rasters
from sdi.pipeline import run_load, run_load_raster
from sdi.server.access import token_from_query

from conftest import fresh_database, load_sample, running_api

RESTRICTED = "utility_networks"
OTHER = "1465011"  # a second city, with restricted rows of its own
XSS = "</script><img src=x onerror=alert(1)>"
SECRET = "sdi-test-secret-7f3a9c"  # what a planted path points at


@pytest.fixture(scope="module")
def api(server_url, tmp_path_factory):
    """Sample gmina, its elevation model, water mains of two cities, a feature named like a script, planted rows."""
    tmp = tmp_path_factory.mktemp("api_security")
    home = tmp / "home"
    with fresh_database(server_url) as db_url:
        settings = load_sample(tmp, db_url)
        run_load_raster(
            write_sample_rasters(tmp / "rasters")["elevation"], city=SAMPLE_CITY, theme="elevation", settings=settings
        )
        for city, dx in ((SAMPLE_CITY, 0), (OTHER, 5000)):
            pipes = gpd.GeoDataFrame(
                {"network": ["water", "gas"], "diameter_mm": [160, 90]},
                crs=2180,
                geometry=[
                    LineString([(616300 + dx, 335700), (616900 + dx, 335700)]),
                    LineString([(616300 + dx, 335800), (616900 + dx, 335800)]),
                ],
            )
            pipes.to_file(tmp / f"sieci_{city}.gpkg")
            run_load(tmp / f"sieci_{city}.gpkg", city=city, theme=RESTRICTED, settings=settings)
        services = gpd.read_file(next((tmp / "sample").glob("*.geojson")))
        services.loc[0, "name"] = XSS
        services.to_file(tmp / "uslugi.geojson", driver="GeoJSON")
        run_load(tmp / "uslugi.geojson", city=OTHER, theme="public_services", settings=settings)
        home.mkdir(parents=True, exist_ok=True)
        (home / "cluster.json").write_text(json.dumps({"password": SECRET}))
        outside = settings.raster_dir_abs / "elevation" / OTHER
        outside.mkdir(parents=True, exist_ok=True)
        # a name of the right shape that is a link out of the raster folder
        (outside / "20250101T000000-deadbeef.tif").symlink_to(home / "cluster.json")
        with open_catalogue(settings) as conn:
            city_token = tokens.add(conn, "wodociagi", SAMPLE_CITY)
            all_token = tokens.add(conn, "centrum-zarzadzania")
        _plant(db_url, "elevation", "1465011", str(home / "cluster.json"))
        _plant(db_url, "elevation", "1261011", "/etc/hostname")
        _plant(db_url, "elevation", "2465011", "elevation/2465011/../../../home/cluster.json")
        _plant(db_url, "elevation", "0206011", "../../home/cluster.json")
        _plant(db_url, "noise_map", "1465011", "/etc/hostname")  # a theme with nothing but a bad row
        with running_api(db_url, home) as base:
            _grant_token_scope(db_url)
            yield base, db_url, home, settings, city_token, all_token


def _grant_token_scope(db_url: str) -> None:
    """The reader may call data.sdi_token_scope (sdi/sql/reader_grants.sql is to grant it; until then, here)."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        role = conn.execute("SELECT current_database()").fetchone()[0][:50] + "_reader"
        if not conn.execute(
            "SELECT has_function_privilege(%s, 'data.sdi_token_scope(text)', 'EXECUTE')", [role]
        ).fetchone()[0]:
            conn.execute(
                psycopg.sql.SQL("GRANT EXECUTE ON FUNCTION data.sdi_token_scope(text) TO {}").format(
                    psycopg.sql.Identifier(role)
                )
            )


def _plant(db_url: str, theme: str, city: str, path: str) -> None:
    """A catalogue row for a raster, as a city's login could write it before the owner's functions."""
    with psycopg.connect(db_url) as conn:
        conn.execute("ALTER TABLE sdi.rasters DROP CONSTRAINT IF EXISTS rasters_relative_name")
        load_id = conn.execute(
            "INSERT INTO sdi.loads (city, theme, source, feature_count, reject_count)"
            " VALUES (%s, %s, 'x.tif', 1, 0) RETURNING load_id",
            [city, theme],
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO sdi.rasters (load_id, path, width, height, bands, dtype, resolution, bytes, bounds)"
            " VALUES (%s, %s, 10, 10, 1, 'float32', 2, 100, ST_MakeEnvelope(616000, 335000, 616020, 335020,"
            " 2180))",
            [load_id, path],
        )
        conn.execute(
            "INSERT INTO sdi.layers (city, theme, load_id) VALUES (%s, %s, %s)"
            " ON CONFLICT (city, theme) DO UPDATE SET load_id = excluded.load_id",
            [city, theme, load_id],
        )


@pytest.mark.parametrize("city", ["1465011", "1261011", "2465011", "0206011"])
def test_planted_raster_paths_are_never_served(api, city):
    base, _, home, _, _, _ = api
    r = requests.get(f"{base}/rasters/elevation/{city}.tif", timeout=30)
    assert r.status_code == 404
    assert SECRET.encode() not in r.content and open("/etc/hostname", "rb").read().strip() not in r.content
    assert "refused the raster of elevation/" + city in (home / "serve.log").read_text(errors="replace")


def test_a_link_out_of_the_raster_folder_is_not_followed(api, tmp_path):
    base, db_url, _, settings, _, _ = api
    with psycopg.connect(db_url) as conn:  # the right shape, but the file is a link to the secret
        conn.execute(
            "UPDATE sdi.rasters SET path = 'elevation/1465011/20250101T000000-deadbeef.tif' WHERE load_id"
            " = (SELECT load_id FROM sdi.layers WHERE theme = 'elevation' AND city = '1465011')"
        )
    from sdi.server.raster_files import raster_file

    assert (
        raster_file("elevation/1465011/20250101T000000-deadbeef.tif", "elevation", "1465011", settings.raster_dir_abs)
        is None
    )
    assert (
        raster_file("elevation/1465011/20250101T000000-deadbeef.tif", "roads", "1465011", settings.raster_dir_abs)
        is None
    )


def test_the_server_survives_bad_raster_rows_and_serves_the_good_one(api):
    base, _, _, _, _, _ = api
    assert requests.get(f"{base}/health", timeout=30).status_code == 200
    ids = {c["id"] for c in requests.get(f"{base}/collections", params={"f": "json"}, timeout=30).json()["collections"]}
    assert "elevation" in ids and "noise_map" not in ids  # noise_map has only a bad row: skipped, not fatal
    good = requests.get(f"{base}/rasters/elevation/{SAMPLE_CITY}.tif", headers={"Range": "bytes=0-3"}, timeout=30)
    assert good.status_code == 206 and good.content[:2] in (b"II", b"MM")


def test_a_whole_coverage_is_a_geotiff_never_the_vrt_with_server_paths(api):
    base, _, home, settings, _, _ = api
    r = requests.get(f"{base}/collections/elevation/coverage", params={"f": "GTiff"}, timeout=60)
    assert r.status_code in (200, 413), r.text[:300]
    if r.status_code == 200:
        assert r.content[:2] in (b"II", b"MM")  # a TIFF
    for body in (
        r.content,
        requests.get(f"{base}/collections/elevation", params={"f": "json"}, timeout=30).content,
        requests.get(f"{base}/collections/elevation/coverage", params={"f": "json"}, timeout=60).content,
    ):
        assert b"<VRTDataset" not in body
        for secret in (str(home), str(settings.raster_dir_abs), str(home.resolve())):
            assert secret.encode() not in body


@pytest.mark.parametrize(
    "path",
    [
        f"collections/{RESTRICTED}",
        f"collections/{RESTRICTED}/items",
        f"collections/{RESTRICTED}/items/1",
        f"collections/{RESTRICTED}/queryables",
        f"collections/{RESTRICTED}/tiles",
    ],
)
def test_a_restricted_theme_answers_anonymous_clients_like_an_unknown_one(api, path):
    base, _, _, _, _, _ = api
    hidden = requests.get(f"{base}/{path}", params={"f": "json"}, timeout=30)
    unknown = requests.get(f"{base}/{path.replace(RESTRICTED, 'no_such_theme')}", params={"f": "json"}, timeout=30)
    assert hidden.status_code == unknown.status_code == 404
    assert hidden.json() == json.loads(unknown.text.replace("no_such_theme", RESTRICTED))
    assert "WWW-Authenticate" not in hidden.headers


def test_health_counts_only_what_collections_lists(api):
    base, _, _, _, _, _ = api
    health = requests.get(f"{base}/health", timeout=30).json()
    listed = requests.get(f"{base}/collections", params={"f": "json"}, timeout=30).json()["collections"]
    assert health["themes"] == len(listed)
    assert RESTRICTED not in json.dumps(health)


def test_a_token_sees_only_its_own_city(api):
    base, db_url, _, _, city_token, all_token = api

    def get(path, token, **params):
        return requests.get(
            f"{base}/collections/{RESTRICTED}/{path}",
            params={"f": "json", **params},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )

    own = get("items", city_token).json()
    assert {f["properties"]["city"] for f in own["features"]} == {SAMPLE_CITY} and own["numberMatched"] == 2
    everything = get("items", all_token).json()
    assert {f["properties"]["city"] for f in everything["features"]} == {SAMPLE_CITY, OTHER}
    assert everything["numberMatched"] == 4
    foreign = next(f["id"] for f in everything["features"] if f["properties"]["city"] == OTHER)
    assert get(f"items/{foreign}", city_token).status_code == 404
    assert get(f"items/{foreign}", all_token).status_code == 200
    # a tile over the other city's pipes holds nothing for the city's token
    tile = "tiles/WebMercatorQuad/14/{y}/{x}"
    x, y = _tile_of(base, foreign, all_token)
    assert get(tile.format(x=x, y=y), all_token, f="mvt").status_code == 200
    assert get(tile.format(x=x, y=y), city_token, f="mvt").status_code in (204, 404)


def _tile_of(base: str, fid: int, token: str) -> tuple[int, int]:
    import math

    feature = requests.get(
        f"{base}/collections/{RESTRICTED}/items/{fid}",
        params={"f": "json"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    ).json()
    lon, lat = (
        feature["geometry"]["coordinates"][0]
        if feature["geometry"]["type"] == "LineString"
        else feature["geometry"]["coordinates"][0][0]
    )
    n = 2**14
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


@pytest.mark.parametrize("page", ["items", "item"])
def test_feature_names_cannot_close_a_script_in_html(api, page):
    base, _, _, _, _, _ = api
    items = requests.get(
        f"{base}/collections/public_services/items", params={"f": "json", "limit": 100}, timeout=30
    ).json()
    fid = next(f["id"] for f in items["features"] if f["properties"]["name"] == XSS)
    path = "items" if page == "items" else f"items/{fid}"
    r = requests.get(f"{base}/collections/public_services/{path}", params={"f": "html", "limit": 100}, timeout=30)
    assert r.status_code == 200
    html = r.content.decode("utf-8")
    assert "</script><img" not in html and "<img src=x" not in html
    assert "\\u003c/script\\u003e\\u003cimg src=x onerror=alert(1)\\u003e" in html  # the name is there, inert
    policy = r.headers["Content-Security-Policy"]
    nonce = re.search(r"'nonce-([^']+)'", policy).group(1)
    assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    scripts = re.findall(r"<script\b[^>]*>", html)
    assert scripts and all(f'nonce="{nonce}"' in s for s in scripts)  # the page's own scripts still run


def test_a_long_in_list_or_filter_is_a_400_and_a_big_body_a_413(api):
    base, _, _, _, _, _ = api
    url = f"{base}/collections/roads/items"
    cql = {"Content-Type": "application/query-cql-json"}
    long_in = {"op": "in", "args": [{"property": "fid"}, list(range(70_000))]}
    r = requests.post(url, data=json.dumps(long_in), headers=cql, timeout=60)
    assert r.status_code == 400 and "IN list" in r.json()["description"]
    chain = {"op": "or", "args": [{"op": "=", "args": [{"property": "fid"}, i]} for i in range(1500)]}
    r = requests.post(url, data=json.dumps(chain), headers=cql, timeout=60)  # was a 500: Python's stack ran out
    assert r.status_code == 400 and "nested" in r.json()["description"]
    r = requests.post(url, data=json.dumps(_balanced(range(1500))), headers=cql, timeout=60)
    assert r.status_code == 400 and "terms" in r.json()["description"]
    assert requests.post(url, data=json.dumps(_balanced(range(50))), headers=cql, timeout=60).status_code == 200
    text_in = "fid IN (" + ",".join(map(str, range(1200))) + ")"
    r = requests.get(url, params={"filter": text_in, "filter-lang": "cql2-text"}, timeout=30)
    assert r.status_code in (400, 414) and r.status_code < 500
    assert requests.get(f"{base}/health", timeout=30).status_code == 200


def test_a_big_body_is_a_413_from_the_workers_themselves(api):
    """nginx refuses bodies over 1 MB in front; the workers hold the same limit for whoever reaches them."""
    _, _, home, _, _, _ = api
    conf = "".join(p.read_text() for p in (home / "front").glob("*.conf"))
    sock = re.search(r"server unix:([^;\s]+);", conf).group(1)  # gunicorn's private socket
    big = json.dumps({"op": "=", "args": [{"property": "name"}, "x" * 2_000_000]}).encode()
    for chunked in (False, True):
        status, body = _post_unix(sock, "/collections/roads/items", big, chunked)
        assert status == 413 and b"over the limit of 1,000,000 bytes" in body
    status, _ = _post_unix(sock, "/collections/roads/items", json.dumps(_balanced(range(5))).encode(), False)
    assert status == 200


def _post_unix(sock: str, path: str, body: bytes, chunked: bool) -> tuple[int, bytes]:
    class _Unix(http.client.HTTPConnection):
        def connect(self):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(60)
            self.sock.connect(sock)

    conn = _Unix("localhost")
    headers = {"Content-Type": "application/query-cql-json", "Host": "localhost"}
    try:  # the worker answers once it has read past the limit and closes: the rest may find no reader
        if chunked:
            conn.request(
                "POST",
                path,
                body=iter([body[i : i + 65536] for i in range(0, len(body), 65536)]),
                headers=headers,
                encode_chunked=True,
            )
        else:
            conn.request("POST", path, body=body, headers=headers)
    except (BrokenPipeError, ConnectionResetError):
        pass
    try:
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


def _balanced(values) -> dict:
    """fid = v OR ... as a balanced tree: many terms, little depth."""
    values = list(values)
    if len(values) == 1:
        return {"op": "=", "args": [{"property": "fid"}, values[0]]}
    half = len(values) // 2
    return {"op": "or", "args": [_balanced(values[:half]), _balanced(values[half:])]}


@pytest.mark.parametrize(
    "query",
    [
        "access_token=T",
        "access%5Ftoken=T",
        "%61ccess_token=T",
        "a=1&access_token=T",
        "access_token=S&access_token=T",
        "access%5ftoken=T%2B",
    ],
)
def test_token_from_query_reads_every_spelling(query):
    assert token_from_query(query) in ("T", "T+")


def test_an_encoded_token_name_is_accepted_as_the_middleware_reads_it(api):
    base, _, _, _, _, all_token = api
    r = requests.get(f"{base}/collections/{RESTRICTED}/items?f=json&access%5Ftoken={all_token}", timeout=30)
    assert r.status_code == 200 and len(r.json()["features"]) == 4
