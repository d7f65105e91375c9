"""HTTP caching (issue 22): ETag and Last-Modified from the loads, 304, Cache-Control per kind, nginx's tile cache.

One `sdi serve` (nginx in front, pygeoapi under gunicorn) over the sample gmina; a second load of a theme must
change its validators, and a request with a token must never be stored by a shared cache.
"""

from __future__ import annotations

import math
import time

import pytest
import requests

from sdi.core.sample import SAMPLE_CITY, write_sample
from sdi.pipeline import run_load

from conftest import fresh_database, load_sample, run_sdi, running_api


@pytest.fixture(scope="module")
def served(server_url, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("caching")
    with fresh_database(server_url) as db_url:
        settings = load_sample(tmp, db_url)
        with running_api(db_url, tmp / "serve") as base:
            yield base, settings, tmp


def _items(base: str, **headers: str) -> requests.Response:
    return requests.get(
        f"{base}/collections/roads/items", params={"f": "json", "limit": 5}, headers=headers, timeout=30
    )


def _tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


def test_items_carry_validators_and_a_matching_etag_gets_304(served):
    base, _, _ = served
    first = _items(base)
    assert first.status_code == 200, first.text
    etag = first.headers["ETag"]
    assert etag.startswith('W/"')
    assert first.headers["Cache-Control"] == "public, max-age=60"
    assert first.headers["Last-Modified"].endswith("GMT")
    again = _items(base, **{"If-None-Match": etag})
    assert (again.status_code, again.content, again.headers["ETag"]) == (304, b"", etag)
    # Another representation (another page, HTML) is another entity: its own ETag.
    other = requests.get(f"{base}/collections/roads/items", params={"f": "json", "limit": 6}, timeout=30)
    assert other.headers["ETag"] != etag
    assert _items(base, **{"If-None-Match": 'W/"not-it"'}).status_code == 200


def test_errors_and_unknown_themes_are_never_validated(served):
    base, _, _ = served
    missing = requests.get(f"{base}/collections/no_such_theme/items", headers={"If-None-Match": "*"}, timeout=30)
    assert missing.status_code == 404 and "ETag" not in missing.headers
    bad = requests.get(f"{base}/collections/roads/items", params={"limit": "x"}, timeout=30)
    assert bad.status_code == 400 and bad.headers.get("Cache-Control") == "no-store" and "ETag" not in bad.headers


def test_a_request_with_a_token_is_private_and_not_stored(served):
    base, settings, _ = served
    made = run_sdi("token", "add", "cache-test", env={"SDI_DATABASE_URL": settings.database_url})
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip().splitlines()[0]
    answer = _items(base, Authorization=f"Bearer {token}")
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "private, no-store" and "ETag" not in answer.headers
    by_query = requests.get(f"{base}/collections/roads/items", params={"f": "json", "access_token": token}, timeout=30)
    assert by_query.headers["Cache-Control"] == "private, no-store"


def test_nginx_builds_a_tile_once_then_serves_it_from_its_cache(served):
    base, _, _ = served
    first = requests.get(
        f"{base}/collections/public_services/items", params={"f": "json", "limit": 1}, timeout=30
    ).json()["features"][0]["geometry"]["coordinates"]
    x, y = _tile(first[0], first[1], 15)
    url = f"{base}/collections/roads/tiles/WebMercatorQuad/15/{y}/{x}"
    answers = [requests.get(url, params={"f": "mvt"}, timeout=30) for _ in range(3)]
    assert [a.status_code for a in answers] in ([200] * 3, [204] * 3)
    assert answers[0].headers["X-Cache-Status"] == "MISS"
    # HIT within the second nginx keeps it, REVALIDATED after it (the API's 304: built once per load)
    assert {a.headers["X-Cache-Status"] for a in answers[1:]} <= {"HIT", "REVALIDATED"}
    time.sleep(2.5)  # nginx counts in whole seconds: 1 s of validity lasts until the second after
    later = requests.get(url, params={"f": "mvt"}, timeout=30)
    assert later.headers["X-Cache-Status"] == "REVALIDATED" and later.content == answers[0].content
    assert answers[0].headers["Cache-Control"] == "public, max-age=60"


def test_a_new_load_changes_the_etag(served):
    base, settings, tmp = served
    before = _items(base).headers["ETag"]
    sample = write_sample(tmp / "again")
    run_load(sample["roads"], city=SAMPLE_CITY, theme="roads", settings=settings)
    deadline, after = time.monotonic() + 30, before
    while time.monotonic() < deadline and after == before:
        time.sleep(0.3)
        after = _items(base).headers["ETag"]
    assert after != before  # the same rows, a new version: a client's copy is revalidated
    assert _items(base, **{"If-None-Match": before}).status_code == 200
    assert _items(base, **{"If-None-Match": after}).status_code == 304


def test_one_request_asks_the_catalogue_for_a_themes_current_loads_once(db_url):
    """The validator and the query's partitions share the request's answer: one stamp query, not two."""
    import psycopg
    from psycopg.rows import dict_row

    from sdi.server import current_loads

    class Counting:
        def __init__(self, conn):
            self.conn, self.stamps = conn, 0

        def execute(self, query, params=None):
            self.stamps += "bit_xor(hashint8(load_id))" in str(query)
            return self.conn.execute(query, params)

    with psycopg.connect(db_url, row_factory=dict_row) as conn:
        spy = Counting(conn)
        with current_loads.one_request():
            first = current_loads.current(spy, "roads")
            assert current_loads.current(spy, "roads") is first
        assert spy.stamps == 1
        current_loads.current(spy, "roads")
        current_loads.current(spy, "roads")
        assert spy.stamps == 3  # outside a request every call checks the stamp: a stale copy is never used
