"""Convert a history table of before issue 17 (one table for every load) into one partition per load.

Run by the owner inside `ensure_theme_table`'s transaction (sdi init, or the first load after the upgrade):
the old table is renamed aside, a partitioned table takes its name, its sequence and its columns, and each
load's rows move into a table of their own that is indexed and attached as a new load's would be. The
caller rebuilds the view over the new table and then drops the old one (`drop_old`).
"""

from __future__ import annotations

import logging

import psycopg
from psycopg import sql

from sdi.core.db import scalar

logger = logging.getLogger(__name__)


def _old(theme: str) -> sql.Identifier:
    return sql.Identifier("history", f"{theme[:40]}#old")


def convert(conn: psycopg.Connection, theme: str) -> None:
    """Move every load's rows of history.<theme> into its own partition of a new partitioned history.<theme>."""
    table, old = sql.Identifier("history", theme), _old(theme)
    seq = scalar(conn.execute("SELECT pg_get_serial_sequence(%s, 'fid')", [f"history.{theme}"]))
    conn.execute(sql.SQL("ALTER TABLE {t} RENAME TO {o}").format(t=table, o=sql.Identifier(f"{theme[:40]}#old")))
    # Index names are unique per schema: the new parent's take the old ones' names.
    conn.execute(
        sql.SQL("ALTER TABLE {o} DROP CONSTRAINT IF EXISTS {k}").format(o=old, k=sql.Identifier(f"{theme}_pkey"))
    )
    conn.execute(sql.SQL("DROP INDEX IF EXISTS {i}").format(i=sql.Identifier("history", f"{theme}_geom_idx")))
    if seq:
        conn.execute(sql.SQL("ALTER SEQUENCE {s} OWNED BY NONE").format(s=sql.SQL(seq)))
    conn.execute(
        sql.SQL(
            "CREATE TABLE {t} (LIKE {o} INCLUDING DEFAULTS, PRIMARY KEY (fid, load_id)) PARTITION BY LIST (load_id)"
        ).format(t=table, o=old)
    )
    if seq:
        conn.execute(sql.SQL("ALTER SEQUENCE {s} OWNED BY {t}.fid").format(s=sql.SQL(seq), t=table))
    conn.execute(
        sql.SQL("CREATE INDEX {i} ON {t} USING gist (geom)").format(i=sql.Identifier(f"{theme}_geom_idx"), t=table)
    )
    loads = [r[0] for r in conn.execute(sql.SQL("SELECT DISTINCT load_id FROM {o} ORDER BY 1").format(o=old))]
    for load_id in loads:
        name = scalar(conn.execute("SELECT sdi.load_table(%s, %s)", [theme, load_id]))
        part = sql.Identifier("history", name)
        conn.execute(
            sql.SQL(
                "CREATE TABLE {p} (LIKE {t} INCLUDING DEFAULTS, CONSTRAINT load_rows CHECK (load_id = {n}))"
            ).format(p=part, t=table, n=load_id)
        )
        conn.execute(sql.SQL("INSERT INTO {p} SELECT * FROM {o} WHERE load_id = {n}").format(p=part, o=old, n=load_id))
        conn.execute(sql.SQL("ALTER TABLE {p} ADD PRIMARY KEY (fid, load_id)").format(p=part))
        conn.execute(sql.SQL("CREATE INDEX ON {p} USING gist (geom)").format(p=part))
        conn.execute(sql.SQL("ANALYZE {p}").format(p=part))
        conn.execute(
            sql.SQL("ALTER TABLE {t} ATTACH PARTITION {p} FOR VALUES IN ({n})").format(t=table, p=part, n=load_id)
        )
        conn.execute(sql.SQL("ALTER TABLE {p} DROP CONSTRAINT load_rows").format(p=part))
    logger.info("history.%s: %d loads moved into partitions", theme, len(loads))


def drop_old(conn: psycopg.Connection, theme: str) -> None:
    """Drop the old table once the view reads the new one."""
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {o}").format(o=_old(theme)))
