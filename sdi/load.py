"""Write a harmonised frame to PostGIS: staging table <- COPY, then swap the city's rows in one transaction.

Either the data, its provenance row and its rejects all commit, or nothing changes.
"""

from __future__ import annotations

import logging
from typing import Callable

import geopandas as gpd
import numpy as np
import psycopg
import shapely
from psycopg import sql

from sdi import catalogue, sqlfiles
from sdi.catalogue import Provenance
from sdi.config import Schema
from sdi.convert import PG_TYPES
from sdi.errors import LoadError
from sdi.settings import STORAGE_SRID

logger = logging.getLogger(__name__)

_STAGING = sql.Identifier("sdi_staging")


class _DryRun(Exception):
    """Raised inside the load transaction to roll a --dry-run back after every step has run."""


def load(conn: psycopg.Connection, frame: gpd.GeoDataFrame, rejects: list[dict], *, city: str, schema: Schema,
         provenance: Provenance, dry_run: bool = False,
         progress: Callable[[int], None] = lambda _: None) -> int | None:
    """Add `frame` as a new version of (city, theme) and make it current, atomically; returns the load id."""
    theme = schema.id
    ensure_theme_table(conn, schema)
    columns = ["city", "source_id", *schema.fields]
    load_id = None
    try:
        with conn.transaction():
            # One load per (city, theme) at a time: a second one waits here until the first commits.
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('sdi.load'), hashtext(%s))", [f"{city}:{theme}"])
            load_id = catalogue.record_load(conn, city=city, theme=theme, feature_count=len(frame),
                                            reject_count=len(rejects), provenance=provenance)
            _copy_to_staging(conn, frame, schema, columns, progress)
            cols = sql.SQL(", ").join(sqlfiles.ident(c) for c in columns)
            conn.execute(sql.SQL("INSERT INTO {t} ({cols}, load_id, geom) SELECT {cols}, %s,"
                                 " ST_SetSRID(ST_GeomFromWKB(geom), {srid}) FROM {s}").format(
                t=sqlfiles.history_table(theme), cols=cols, srid=sql.Literal(STORAGE_SRID), s=_STAGING), [load_id])
            catalogue.set_current(conn, city=city, theme=theme, load_id=load_id)
            catalogue.record_rejects(conn, load_id, rejects)
            if dry_run:
                raise _DryRun
    except _DryRun:
        logger.info("dry run: load of %s for %s rolled back", theme, city)
        return None
    except psycopg.errors.DataError as exc:
        raise LoadError(f"PostGIS refused the {theme} data ({exc.diag.message_primary})",
                        "nothing was changed; check the mapping's types with `sdi check`") from None
    logger.info("load %d: %d features of %s for city %s", load_id, len(frame), theme, city)
    return load_id


def ensure_theme_table(conn: psycopg.Connection, schema: Schema) -> None:
    """Create history.<theme> and its view data.<theme> on first use, and add fields the schema gained since.

    This runs in a short transaction of its own, and only alters when a column is missing, because
    ALTER TABLE locks out every reader of the theme until its transaction ends.
    """
    theme = schema.id
    table, view = sqlfiles.history_table(theme), sqlfiles.theme_table(theme)
    have = {r[0] for r in conn.execute("SELECT column_name FROM information_schema.columns"
                                       " WHERE table_schema = 'history' AND table_name = %s", [theme])}
    missing = [c for c in ("source_id", *schema.fields) if c not in have]
    if have and not missing:
        return
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('sdi.ddl'), hashtext(%s))", [theme])
        conn.execute(sql.SQL(
            "CREATE TABLE IF NOT EXISTS {t} (fid bigserial PRIMARY KEY, city char(7) NOT NULL, source_id text,"
            " load_id bigint NOT NULL, geom geometry({g}, {srid}) NOT NULL)").format(
            t=table, g=sql.SQL(schema.geometry), srid=sql.Literal(STORAGE_SRID)))
        # Tables made before version 2 of the catalogue lack source_id.
        types = {"source_id": "text", **{col: PG_TYPES[kind.type] for col, kind in schema.fields.items()}}
        for col, pg_type in types.items():
            conn.execute(sql.SQL("ALTER TABLE {t} ADD COLUMN IF NOT EXISTS {c} {ty}").format(
                t=table, c=sqlfiles.ident(col), ty=sql.SQL(pg_type)))
        for suffix, method, column in (("geom", "gist", "geom"), ("load", "btree", "load_id")):
            conn.execute(sql.SQL("CREATE INDEX IF NOT EXISTS {i} ON {t} USING {m} ({c})").format(
                i=sql.Identifier(f"{theme}_{suffix}_idx"), t=table, m=sql.SQL(method), c=sql.Identifier(column)))
        conn.execute(sql.SQL("CREATE OR REPLACE VIEW {v} AS SELECT h.* FROM {t} h"
                             " JOIN sdi.layers l USING (load_id)").format(v=view, t=table))


def _copy_to_staging(conn: psycopg.Connection, frame: gpd.GeoDataFrame, schema: Schema, columns: list[str],
                     progress: Callable[[int], None]) -> None:
    types = {"city": "text", "source_id": "text", **{k: PG_TYPES[f.type] for k, f in schema.fields.items()}}
    defs = [sql.SQL("{} {}").format(sqlfiles.ident(c), sql.SQL(types[c])) for c in columns]
    conn.execute(sql.SQL("CREATE TEMP TABLE {s} ({defs}, geom bytea) ON COMMIT DROP").format(
        s=_STAGING, defs=sql.SQL(", ").join(defs)))
    wkb = shapely.to_wkb(frame.geometry.values, include_srid=False)
    values = [_python_values(frame[c]) for c in columns]
    copy_sql = sql.SQL("COPY {s} ({cols}, geom) FROM STDIN").format(
        s=_STAGING, cols=sql.SQL(", ").join(sqlfiles.ident(c) for c in columns))
    with conn.cursor().copy(copy_sql) as copy:
        for n, row in enumerate(zip(*values, wkb), 1):
            copy.write_row(row)
            if n % 10_000 == 0:
                progress(10_000)
        progress(len(frame) % 10_000)


def _python_values(series) -> list:
    """Plain Python values with None for every kind of missing value."""
    values = series.astype(object).where(series.notna(), None).tolist()
    return [v.item() if isinstance(v, np.generic) else v for v in values]
