"""Which partitions of history an API query reads, and how many rows it matches.

`history.<theme>` is partitioned by load (migration 0006) and every version kept is a partition. The view
`data.<theme>` joins history with `sdi.layers`, and PostgreSQL 15 does not prune on that join (nor on a
subquery or a non-constant array): every query over the view would plan, lock and probe the index of every
partition, old versions too. So the provider first reads the theme's current load ids (one indexed query on
`data.sdi_layers`) and adds `load_id = ANY(%s)` with the ids bound: planned with the values known, only the
current partitions are kept. At national scale (2,477 cities) the current partitions alone are too many to
plan per request, so only the loads the request can touch are bound (`Reach`, from each load's fid range
and extent, migration 0014).

Each worker keeps a theme's current loads (sdi.server.current_loads) and checks them against the catalogue
at every request, never trusting a stale copy: after a load commits, gunicorn's workers are reloaded up to
two seconds later (sdi.server.serving polls the catalogue), and a stale id would not show the old version in
that window but nothing at all for that city, since the view's join admits only the new one.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

from sdi.core import sqlfiles
from sdi.server import current_loads

# Up to this many matches numberMatched is exact; beyond it the count is left out rather than paid for.
EXACT_COUNT_UP_TO = 100_000
#: A filtered query is counted only when it matches at most this many features.
COUNT_IF_ESTIMATED_BELOW = 1_000
_VERSIONED: dict[str, bool] = {}


@dataclass(frozen=True)
class Reach:
    """What one request can touch, as far as the catalogue can tell; None where the request does not narrow.

    fid: items/{fid}. box: a bbox or a tile, (xmin, ymin, xmax, ymax) in EPSG:2180. first/after: an
    unfiltered page in fid order needs its first `first` rows (offset + limit) after fid `after`.
    """

    fid: int | None = None
    box: tuple[float, float, float, float] | None = None
    first: int | None = None
    after: int | None = None


@dataclass(frozen=True)
class Scope:
    """The clause keeping a query to the partitions it may read, its bound ids, and the rows in all the
    theme's current loads when the catalogue knows them exactly (numberMatched of an unfiltered query)."""

    clause: sql.Composable
    params: list
    total: int | None = None
    loads: list[int] | None = None  # the load ids bound; None for a view that has no loads


def load_clause(conn, theme: str, city: str | None, reach: Reach = Reach()) -> Scope:
    """`load_id = ANY(%s)` bound to the theme's current loads (of one city if given) that `reach` can touch;
    `true` for a view that has no loads (the analysis layers, sdi.server.publish's derived layers).

    With 2,477 cities every current load is a partition PostgreSQL would plan for every request (68-100 ms
    of planning at 151 cities); each load's fid range and extent (migration 0014) leave the one or few it
    needs: the load whose range holds an item, the loads whose extent meets a box, the first loads in fid
    order that hold a page.
    """
    if not versioned(conn, theme):
        return Scope(sql.SQL("true"), [])
    rows = [x for x in current_loads.current(conn, theme).loads if _touches(x, city, reach)]
    known = all(r.row_count is not None and r.fid_min is not None and r.fid_max is not None for r in rows)
    narrowed = reach.fid is not None or reach.box is not None or reach.after is not None
    total = sum(r.row_count or 0 for r in rows) if known and not narrowed else None
    if reach.first is not None and known:
        rows = _page(rows, reach.first, reach.after)
    ids = [r.load_id for r in rows]
    if len(ids) == 1:
        # One load (the usual bbox or item of one city): an equality, from which PostgreSQL also derives the
        # catalogue side of the view's join. Through `= ANY` it estimated that join by default statistics
        # (the partitioned parent has none: 1/200), expected 3 of a box's 1,251 matches, and fetched and
        # sorted them all instead of reading one page from the GiST index.
        return Scope(sql.SQL("load_id = %s::bigint"), ids, total, ids)
    return Scope(sql.SQL("load_id = ANY(%s::bigint[])"), [ids], total, ids)


def _touches(x: current_loads.Load, city: str | None, reach: Reach) -> bool:
    """Whether a request can touch load x; a bound the catalogue did not record never narrows, and an empty
    load (row_count 0) is never kept, as it holds nothing to read."""
    if (city is not None and x.city != city) or x.row_count == 0:
        return False
    fid, after, box = reach.fid, reach.after, reach.box
    if fid is not None and x.fid_min is not None and not (x.fid_max is not None and x.fid_min <= fid <= x.fid_max):
        return False
    if after is not None and x.fid_max is not None and x.fid_max <= after:
        return False
    return (
        box is None
        or x.box is None
        or (x.box[0] <= box[2] and x.box[2] >= box[0] and x.box[1] <= box[3] and x.box[3] >= box[1])
    )


def _page(rows: list[current_loads.Load], first: int, after: int | None) -> list[current_loads.Load]:
    """The loads that can hold the first `first` rows after `after` in fid order.

    rows come in fid_min order. Once the loads taken hold `first` rows past `after`, none of the wanted rows
    has a fid above the largest fid_max taken, so any later load starting above it is not needed. Loads of
    concurrent loads can interleave their ranges: this stays right, it only keeps more loads. A load that
    straddles `after` is not counted, since part of it lies before the page.
    """
    kept: list[current_loads.Load] = []
    held, top = 0, None
    for r in rows:
        low, n = r.fid_min or 0, r.row_count or 0  # both recorded: the caller checked
        if top is not None and low > top:
            break
        kept.append(r)
        if after is None or low > after:
            held += n
        if top is None and held >= first:
            top = max(k.fid_max or 0 for k in kept)
    return kept


def versioned(conn, theme: str) -> bool:
    """Whether the theme's view has a load_id column, i.e. reads history; asked once per worker (a catalogue
    change that could alter it reloads the workers)."""
    if theme not in _VERSIONED:
        _VERSIONED[theme] = conn.execute(
            "SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = 'data'"
            " AND table_name = %s AND column_name = 'load_id') AS v",
            [sqlfiles.check_theme(theme)],
        ).fetchone()["v"]
    return bool(_VERSIONED[theme])


def count(conn, theme: str, where: sql.Composable, params: list, filtered: bool, scope: Scope) -> int | None:
    """numberMatched when it is cheap to know exactly; None (left out, as the standard allows) otherwise."""
    table = sqlfiles.theme_table(theme)
    if not filtered and scope.total is not None:
        # Every row of the current loads matches, and the catalogue counted them when each load closed;
        # the query's own clause may name only the loads of the page, so it cannot count them. Beyond the
        # cap it is still left out: without numberMatched the provider's next link is the keyset `after=`,
        # which a client paging through millions of rows needs (an OFFSET link rereads every skipped row).
        return scope.total if scope.total <= EXACT_COUNT_UP_TO else None
    if not filtered:
        # By name in the catalogue: the reader has no rights on the history schema itself.
        estimate = conn.execute(
            "SELECT c.reltuples::bigint AS n FROM pg_class c JOIN pg_namespace s"
            " ON s.oid = c.relnamespace WHERE s.nspname = 'history' AND c.relname = %s",
            [theme],
        ).fetchone()
        # A derived layer (the analysis results' views) has no history table: the bounded count below.
        if estimate is not None and estimate["n"] > EXACT_COUNT_UP_TO:
            return None
    else:
        # At most one row past the threshold is read (about a millisecond): a filter matching more is
        # "big", and its count is left out. The planner's estimate was used here, but over the view on
        # history partitioned by load it guesses far too low (3,000 matches estimated at 1).
        n = conn.execute(
            sql.SQL("SELECT count(*) AS n FROM (SELECT 1 FROM {t} WHERE {w} LIMIT %s) s").format(t=table, w=where),
            [*params, COUNT_IF_ESTIMATED_BELOW + 1],
        ).fetchone()["n"]
        return n if n <= COUNT_IF_ESTIMATED_BELOW else None
    # Count at most one row past the cap: a filter that matches millions costs no more than the cap.
    n = conn.execute(
        sql.SQL("SELECT count(*) AS n FROM (SELECT 1 FROM {t} WHERE {w} LIMIT %s) s").format(t=table, w=where),
        [*params, EXACT_COUNT_UP_TO + 1],
    ).fetchone()["n"]
    return n if n <= EXACT_COUNT_UP_TO else None
