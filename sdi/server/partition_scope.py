"""Which partitions of history an API query reads, and how many rows it matches.

`history.<theme>` is partitioned by load (migration 0006) and every version kept is a partition. The view
`data.<theme>` joins history with `sdi.layers`, and PostgreSQL 15 does not prune on that join (nor on a
subquery or a non-constant array): every query over the view would plan, lock and probe the index of every
partition, old versions too. So the provider first reads the theme's current load ids (one indexed query on
`data.sdi_layers`) and adds `load_id = ANY(%s)` with the ids bound: planned with the values known, only the
current partitions are kept.

The ids are read again for every request, not cached per worker: after a load commits, gunicorn's workers
are reloaded up to two seconds later (sdi.server.serving polls the catalogue), and a stale id would not
show the old version in that window but nothing at all for that city, since the view's join admits only
the new one. The query costs one round trip on the catalogue's primary keys (measured in readme_storage).
"""

from __future__ import annotations

from psycopg import sql

from sdi.core import sqlfiles

# Up to this many matches numberMatched is exact; beyond it the count is left out rather than paid for.
EXACT_COUNT_UP_TO = 100_000
#: A filtered query is counted only when it matches at most this many features.
COUNT_IF_ESTIMATED_BELOW = 1_000
_VERSIONED: dict[str, bool] = {}


def load_clause(conn, theme: str, city: str | None) -> tuple[sql.Composable, list]:
    """(`load_id = ANY(%s)`, [ids]) for the theme's current loads (of one city if given); `true` for a
    view that has no loads (the analysis layers, sdi.server.publish's derived layers)."""
    if not versioned(conn, theme):
        return sql.SQL("true"), []
    ids = conn.execute(
        "SELECT coalesce(array_agg(load_id), '{}') AS ids FROM data.sdi_layers"
        " WHERE theme = %s AND (%s::text IS NULL OR city = %s)",
        [theme, city, city],
    ).fetchone()["ids"]
    return sql.SQL("load_id = ANY(%s::bigint[])"), [list(ids)]


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


def count(conn, theme: str, where: sql.Composable, params: list, filtered: bool) -> int | None:
    """numberMatched when it is cheap to know exactly; None (left out, as the standard allows) otherwise."""
    table = sqlfiles.theme_table(theme)
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
