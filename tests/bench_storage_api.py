"""Before/after figures for readme_storage.md (run by path: pytest tests/bench_storage_api.py -s): a bbox page
and one item, with 20 versions of a theme kept, planned over every partition vs the current one only."""

from __future__ import annotations

import time

from psycopg import sql
from test_storage import CITY, _versions
from test_storage_api import _Bbox, reader  # noqa: F401 - the fixture

from sdi.server import partition_scope


def _time(prov, box_, fid, rounds: int = 50) -> tuple[float, float]:
    t0 = time.perf_counter()
    for _ in range(rounds):
        prov.query(limit=100, bbox=box_)
    t1 = time.perf_counter()
    for _ in range(rounds):
        prov.get(fid)
    t2 = time.perf_counter()
    return (t1 - t0) / rounds * 1000, (t2 - t1) / rounds * 1000


def test_bench_20_versions(settings, tmp_path, reader, monkeypatch):  # noqa: F811
    _versions(settings, tmp_path, CITY, 20)
    spy, prov = reader
    spy.execute = spy.conn.execute  # time the queries alone, not the EXPLAINs
    box_ = _Bbox(636_000, 486_000, 639_000, 489_000)
    fid = prov.query(limit=1, bbox=box_)["features"][0]["id"]
    _time(prov, box_, fid, 5)
    after = _time(prov, box_, fid)
    t0 = time.perf_counter()
    for _ in range(50):
        partition_scope.load_clause(spy.conn, "public_services", None)
    ids_ms = (time.perf_counter() - t0) / 50 * 1000
    monkeypatch.setattr(
        partition_scope, "load_clause", lambda conn, theme, city, reach=None: partition_scope.Scope(sql.SQL("true"), [])
    )
    _time(prov, box_, fid, 5)
    before = _time(prov, box_, fid)
    print(
        f"\n20 versions kept: bbox page (limit 100, with count) before {before[0]:.2f} ms, after {after[0]:.2f} ms;"
        f" item before {before[1]:.2f} ms, after {after[1]:.2f} ms;"
        f" of which reading the current load ids {ids_ms:.2f} ms"
    )
