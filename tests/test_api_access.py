"""The public API: restricted themes only with a token, read-only, limits, and no secret anywhere."""

from __future__ import annotations

import io
import zipfile

import geopandas as gpd
import psycopg
import pytest
import requests
from shapely.geometry import LineString
from test_qgis import _has_qgis, probe

from sdi.core import tokens
from sdi.core.catalogue import open_catalogue
from sdi.core.sample import SAMPLE_CITY
from sdi.pipeline import run_load

from conftest import fresh_database, load_sample, running_api

RESTRICTED = "utility_networks"


@pytest.fixture(scope="module")
def api(server_url, tmp_path_factory):
    """The sample gmina plus a water main (restricted), served; a token for the city's water company."""
    tmp = tmp_path_factory.mktemp("access")
    with fresh_database(server_url) as db_url:
        settings = load_sample(tmp, db_url)
        pipes = gpd.GeoDataFrame(
            {"network": ["water", "gas"], "diameter_mm": [160, 90]},
            geometry=[
                LineString([(616300, 335700), (616900, 335700)]),
                LineString([(616300, 335800), (616900, 335800)]),
            ],
            crs=2180,
        )
        pipes.to_file(tmp / "sieci.gpkg")
        run_load(tmp / "sieci.gpkg", city=SAMPLE_CITY, theme=RESTRICTED, settings=settings)
        with open_catalogue(settings) as conn:
            token = tokens.add(conn, "wodociagi", SAMPLE_CITY)
            tokens.add(conn, "former-employee")
            tokens.revoke(conn, "former-employee")
        with running_api(db_url, tmp / "home") as base:
            yield base, token, db_url, tmp / "home"


@pytest.mark.parametrize(
    "path",
    [
        f"collections/{RESTRICTED}",
        f"collections/{RESTRICTED}/items",
        f"collections/{RESTRICTED}/items/1",
        f"collections/{RESTRICTED}/queryables",
        f"collections/{RESTRICTED}/schema",
        f"collections/{RESTRICTED}/tiles",
        f"collections/{RESTRICTED}/tiles/WebMercatorQuad/14/5460/9128?f=mvt",
    ],
)
def test_anonymous_requests_to_a_restricted_theme_get_404(api, path):
    # a 404 like any unknown collection: a 401 told anonymous clients that the theme exists (issue 16)
    base, _, _, _ = api
    r = requests.get(f"{base}/{path}", timeout=10)
    assert r.status_code == 404
    bad = requests.get(f"{base}/{path}", headers={"Authorization": "Bearer sdi_not-a-token"}, timeout=10)
    assert bad.status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "collections?f=json",
        "collections?f=html",
        "?f=json",
        "?f=html",
        "openapi?f=json",
        "qgis-project",
        "conformance?f=json",
    ],
)
def test_nothing_of_a_restricted_theme_leaks_to_anonymous_readers(api, path):
    base, _, _, _ = api
    r = requests.get(f"{base}/{path}", timeout=30)
    assert r.status_code == 200
    body = zipfile.ZipFile(io.BytesIO(r.content)).read("sdi.qgs").decode() if path == "qgis-project" else r.text
    assert RESTRICTED not in body and "Sieci uzbrojenia" not in body


def test_a_token_opens_the_restricted_theme(api):
    base, token, _, _ = api
    by_header = requests.get(
        f"{base}/collections/{RESTRICTED}/items",
        params={"f": "json"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert by_header.status_code == 200 and len(by_header.json()["features"]) == 2
    # QGIS can carry it in the layer's URL instead
    by_param = requests.get(
        f"{base}/collections/{RESTRICTED}/items", params={"f": "json", "access_token": token}, timeout=10
    )
    assert by_param.status_code == 200
    listed = requests.get(
        f"{base}/collections", params={"f": "json"}, headers={"Authorization": f"Bearer {token}"}, timeout=10
    ).json()
    assert RESTRICTED in {c["id"] for c in listed["collections"]}
    # and the next anonymous request is anonymous again
    assert RESTRICTED not in requests.get(f"{base}/collections", params={"f": "json"}, timeout=10).text


def test_tokens_are_stored_hashed_and_revoked_ones_refused(api):
    base, token, db_url, _ = api
    with psycopg.connect(db_url) as conn:
        stored = conn.execute("SELECT string_agg(token_hash, ' ') FROM sdi.tokens").fetchone()[0]
        assert token not in stored and tokens.digest(token) in stored
        assert (
            conn.execute(
                "SELECT data.sdi_token_valid(token_hash) FROM sdi.tokens WHERE name = 'former-employee'"
            ).fetchone()[0]
            is False
        )


@pytest.mark.parametrize(
    "method, path, kwargs",
    [
        (
            "post",
            "collections/roads/items",
            {
                "data": '{"type": "Feature", "geometry": null, "properties": {}}',
                "headers": {"Content-Type": "application/geo+json"},
            },
        ),
        ("put", "collections/roads/items/1", {"data": "{}", "headers": {"Content-Type": "application/geo+json"}}),
        ("delete", "collections/roads/items/1", {}),
        ("get", "admin/config", {}),
    ],
)
def test_the_api_is_read_only(api, method, path, kwargs):
    base, _, db_url, _ = api
    r = getattr(requests, method)(f"{base}/{path}", timeout=10, **kwargs)
    assert r.status_code in (400, 404, 405) and r.status_code < 500
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM data.roads").fetchone()[0] == 9


def test_limits_and_cors(api):
    base, _, _, _ = api
    r = requests.get(f"{base}/collections/buildings/items", params={"f": "json", "limit": 50_000}, timeout=30)
    assert r.status_code in (200, 400)
    if r.status_code == 200:
        assert len(r.json()["features"]) <= 10_000
    cors = requests.get(
        f"{base}/collections", params={"f": "json"}, headers={"Origin": "https://example.org"}, timeout=10
    )
    assert cors.headers.get("Access-Control-Allow-Origin") in ("*", "https://example.org")


def test_no_password_in_generated_files_or_logs(api):
    base, token, db_url, home = api
    owner_password = psycopg.conninfo.conninfo_to_dict(db_url)["password"]
    requests.get(f"{base}/health", timeout=10)
    for path in [*(home / "pygeoapi").iterdir(), home / "serve.log"]:
        text = path.read_text(errors="replace")
        assert owner_password not in text and token not in text, path
    health = requests.get(f"{base}/health", timeout=10).text
    assert owner_password not in health and "password" not in health


@pytest.mark.skipif(not _has_qgis(), reason="QGIS is installed by `make test` (python3-qgis)")
def test_qgis_reads_the_restricted_theme_with_the_token_as_password(api):
    base, token, _, _ = api
    uri = f"pagingEnabled='true' typename='{RESTRICTED}' url='{base}' version='OGC_API_FEATURES'"
    assert probe("oapif", f"{uri} username='wodociagi' password='{token}'") | {"renderer": None} == {
        "valid": True,
        "count": 2,
        "renderer": None,
        "attr": None,
    }
    assert probe("oapif", uri)["count"] == 0  # anonymous: QGIS gets 404 and no feature
