"""Each API worker's copy of a theme's current loads, checked against the catalogue at every request.

The partitions a request reads (sdi.server.partition_scope) and the theme's HTTP validator
(sdi.server.caching) both come from the theme's current loads: their ids, fid ranges, extents, row counts
and times. Read from `data.sdi_layers` for every request, that cost 3-5 ms per query at 2,477 cities
(the view joins every load's record, and each extent is unpacked per row), twice per request: more than
the item itself. So each worker keeps the theme's rows and asks only whether they are still current:
count, sum, max and an XOR of hashes of the current load ids (`data.sdi_layer_ids`, one index range,
about 0.5 ms at 2,477 cities). Any change of the current loads changes that stamp: a new load has an id
above every earlier one (max), a rollback to an older load changes the sum, a city taken away the count;
the hash is there for what the three could miss together. A stale copy is never used, so a worker reloaded
late or a request on another replica still reads only current loads. The rows of a load are fixed once it
is current (sdi.close_load_table writes its range before the switch), so the stamp covers them too.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sdi.core import sqlfiles

# The database's oid too: load ids start again at 1 in a database made anew (a test's, or one restored while a
# worker kept running), and the same ids there are other loads.
_STAMP = (
    "SELECT count(*) AS n, sum(load_id) AS s, max(load_id) AS m, bit_xor(hashint8(load_id)) AS h,"
    " (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database()) AS d"
    " FROM data.sdi_layer_ids WHERE theme = %s"
)


@dataclass(frozen=True)
class Load:
    """One city's current load of a theme, as the catalogue recorded it (None: not recorded, never pruned)."""

    load_id: int
    city: str
    loaded_at: datetime | None
    fid_min: int | None
    fid_max: int | None
    row_count: int | None
    box: tuple[float, float, float, float] | None  # xmin, ymin, xmax, ymax in EPSG:2180


@dataclass(frozen=True)
class Current:
    """A theme's current loads in fid order (fid_min, then load id; unknown ranges first) and their stamp."""

    stamp: str
    loads: tuple[Load, ...]

    @property
    def loaded_at(self) -> datetime | None:
        times = [x.loaded_at for x in self.loads if x.loaded_at is not None]
        return max(times) if times else None


_CACHE: dict[str, Current] = {}
_LOCK = threading.Lock()


# Within one request, each theme's stamp is asked once: the HTTP validator (sdi.server.caching) and the query's
# partitions (sdi.server.partition_scope) then describe the same loads, and the second ~0.7 ms query is saved.
_REQUEST: contextvars.ContextVar[dict[str, Current] | None] = contextvars.ContextVar("sdi_current_loads", default=None)


@contextlib.contextmanager
def one_request() -> Iterator[None]:
    """The span of one request: current() answers each theme from its first answer in it."""
    token = _REQUEST.set({})
    try:
        yield
    finally:
        _REQUEST.reset(token)


def current(conn, theme: str) -> Current:
    """The theme's current loads: the worker's copy when the catalogue's stamp still matches, else read anew."""
    memo = _REQUEST.get()
    if memo is not None and theme in memo:
        return memo[theme]
    found = _checked(conn, theme)
    if memo is not None:
        memo[theme] = found
    return found


def _checked(conn, theme: str) -> Current:
    row = conn.execute(_STAMP, [sqlfiles.check_theme(theme)]).fetchone()
    values = [row[k] for k in ("n", "s", "m", "h", "d")] if isinstance(row, dict) else list(row)
    stamp = "-".join(map(str, values))
    with _LOCK:
        found = _CACHE.get(theme)
    if found is not None and found.stamp == stamp:
        return found
    rows = conn.execute(sqlfiles.load("theme_loads.sql"), [theme]).fetchall()
    fresh = Current(stamp, tuple(_load(r) for r in rows))
    with _LOCK:
        _CACHE[theme] = fresh
    return fresh


def _load(r) -> Load:
    r = r if isinstance(r, dict) else dict(zip(_COLUMNS, r, strict=True))
    box = None if r["xmin"] is None else (r["xmin"], r["ymin"], r["xmax"], r["ymax"])
    return Load(r["load_id"], r["city"], r["loaded_at"], r["fid_min"], r["fid_max"], r["row_count"], box)


_COLUMNS = ("load_id", "city", "loaded_at", "fid_min", "fid_max", "row_count", "xmin", "ymin", "xmax", "ymax")
