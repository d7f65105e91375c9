"""Write a harmonised frame to PostGIS: COPY into the theme's history, then make it current, in one transaction.

Either the data, its provenance row and its rejects all commit, or nothing changes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Iterable

import geopandas as gpd
import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import psycopg
import shapely
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter

from sdi.core import catalogue, sqlfiles
from sdi.core.catalogue import Provenance
from sdi.core.config import Schema
from sdi.loader.convert import PG_TYPES
from sdi.core.errors import LoadError
from sdi.core.settings import STORAGE_SRID

logger = logging.getLogger(__name__)

_STAGING = sql.Identifier("sdi_staging")


class _DryRun(Exception):
    """Raised inside the load transaction to roll a --dry-run back after every step has run."""


@dataclass
class Loaded:
    """What a load wrote: its id (None after a dry run), and how many features it stored and rejected."""

    load_id: int | None
    features: int
    rejects: int


def load(conn: psycopg.Connection, batches: Iterable[tuple[gpd.GeoDataFrame, list[dict]]], *, city: str,
         schema: Schema, provenance: Provenance, dry_run: bool = False,
         progress: Callable[[int], None] = lambda _: None,
         before_publish: Callable[[int, int], None] = lambda stored, rejected: None) -> Loaded:
    """Add the batches as a new version of (city, theme) and make it current, atomically.

    `batches` yields harmonised frames with their rejects; it is consumed inside the transaction, so
    a failure anywhere (reading included) or a kill leaves the previous version current.
    `before_publish(stored, rejected)` runs inside that transaction after the COPY and before the version
    is finished and made current: an exception there rolls everything back, load row included.
    """
    theme = schema.id
    own = catalogue.own_city(conn, city)
    ensure_theme_table(conn, schema)
    columns = ["city", "source_id", *schema.fields]
    rejects: list[dict] = []
    try:
        with catalogue.load_errors(), conn.transaction():
            catalogue.lock_layer(conn, city, theme)
            load_id = catalogue.record_load(conn, city=city, theme=theme, provenance=provenance)
            stored = _copy(conn, batches, schema, columns, rejects, progress, load_id=load_id)
            before_publish(stored, len(rejects))
            catalogue.record_rejects(conn, load_id, rejects)
            # Rows and rejects first: the database checks the counts against them, then the switch.
            catalogue.finish_load(conn, load_id, stored, len(rejects))
            catalogue.set_current(conn, city=city, theme=theme, load_id=load_id)
            if dry_run:
                raise _DryRun
    except _DryRun:
        logger.info("dry run: load of %s for %s rolled back", theme, city)
        return Loaded(None, stored, len(rejects))
    except psycopg.errors.DataError as exc:
        raise LoadError(f"PostGIS refused the {theme} data ({exc.diag.message_primary})",
                        "nothing was changed; check the mapping's types with `sdi check`") from None
    # Fresh statistics for the planner: with none, it guessed 82 rows for a bbox that held 3,856 and chose
    # its plans (and whether numberMatched is cheap) on that guess. A city's login may not: then autovacuum will.
    if own is None:
        conn.execute(sql.SQL("ANALYZE {t}").format(t=sqlfiles.history_table(theme)))
        conn.execute("ANALYZE sdi.layers")
        conn.commit()
    logger.info("load %d: %d features of %s for city %s", load_id, stored, theme, city)
    return Loaded(load_id, stored, len(rejects))


def ensure_theme_table(conn: psycopg.Connection, schema: Schema) -> None:
    """Create history.<theme> and its view data.<theme> on first use, and add fields the schema gained since.

    This runs in a short transaction of its own, and only alters when a column is missing or the view's
    form (its access) changed, because ALTER TABLE locks out every reader of the theme until its transaction ends.
    """
    theme = schema.id
    table, view = sqlfiles.history_table(theme), sqlfiles.theme_table(theme)
    have = {r[0] for r in conn.execute("SELECT column_name FROM information_schema.columns"
                                       " WHERE table_schema = 'history' AND table_name = %s", [theme])}
    missing = [c for c in ("source_id", *schema.fields) if c not in have]
    marker = _view_marker(schema)
    if have and not missing and _view_comment(conn, theme) == marker:
        return
    if conn.execute("SELECT sdi.current_city()").fetchone()[0] is not None:
        raise LoadError(f"the {theme} table is {'missing' if not have else 'out of date'} and a city's login"
                        " may not create or change tables", "ask the administrator to run `sdi init`")
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
        # A restricted theme's view shows a city's login only its own rows; the owner and the API's reader
        # (whose current_city() is NULL) see every city, and the API filters by the token's city.
        restricted = sql.SQL("WHERE (SELECT sdi.current_city()) IS NULL OR h.city = (SELECT sdi.current_city())"
                             if schema.access == "restricted" else "")
        conn.execute(sql.SQL(sqlfiles.load("theme_view.sql")).format(
            v=view, t=table, theme=sql.Literal(theme), restricted=restricted, marker=sql.Literal(marker)))
        # A city's login writes only its own rows (migrations 0003 and 0005 explain the roles).
        conn.execute(sql.SQL(sqlfiles.load("theme_security.sql")).format(
            t=table, v=view, name=sql.Identifier(theme), theme=sql.Literal(theme)))


def _view_marker(schema: Schema) -> str:
    """The comment that names the form of a theme's view, so that a change of access rebuilds it."""
    return f"sdi view 2 ({schema.access})"


def _view_comment(conn: psycopg.Connection, theme: str) -> str | None:
    return conn.execute("SELECT obj_description(to_regclass(%s), 'pg_class')",
                        [f"data.{theme}"]).fetchone()[0]


def _copy(conn: psycopg.Connection, batches: Iterable[tuple[gpd.GeoDataFrame, list[dict]]], schema: Schema,
          columns: list[str], rejects: list[dict], progress: Callable[[int], None], *, load_id: int) -> int:
    """COPY every batch into history.<theme>; collect the rejects; return the rows written.

    Each batch becomes CSV in Arrow's C++ writer, geometry as hex EWKB: no Python loop per row. A
    writer thread sends it, so that PostgreSQL parses one batch while we read and harmonise the next
    (on 2 cores this overlap is most of the speed). A city's login is subject to row-level security,
    which PostgreSQL does not allow COPY under; its rows go through a temporary table and one INSERT,
    which the policies then check.
    """
    table = sqlfiles.history_table(schema.id)
    rls = conn.execute("SELECT row_security_active(%s::regclass)", [f"history.{schema.id}"]).fetchone()[0]
    target = _STAGING if rls else table
    names = sql.SQL(", ").join(sqlfiles.ident(c) for c in [*columns, "load_id", "geom"])
    if rls:
        conn.execute(sql.SQL("CREATE TEMP TABLE {s} ON COMMIT DROP AS SELECT {n} FROM {t} WITH NO DATA").format(
            s=_STAGING, n=names, t=table))
    written = 0
    cursor = conn.cursor()
    copy_sql = sql.SQL("COPY {t} ({n}) FROM STDIN (FORMAT csv)").format(t=target, n=names)
    with cursor.copy(copy_sql, writer=QueuedLibpqWriter(cursor)) as copy:
        for frame, batch_rejects in batches:
            rejects += batch_rejects
            copy.write(_csv(frame, columns, load_id))
            written += len(frame)
            progress(len(frame))
    if rls:
        conn.execute(sql.SQL("INSERT INTO {t} ({n}) SELECT {n} FROM {s}").format(t=table, n=names, s=_STAGING))
    return written


def _csv(frame: gpd.GeoDataFrame, columns: list[str], load_id: int) -> bytes:
    """The rows as CSV for COPY: NULL unquoted and empty, strings quoted, dates ISO, geometry hex EWKB."""
    arrays = [_arrow(frame[c]) for c in columns]
    arrays.append(pa.array(np.full(len(frame), load_id, dtype="int64")))
    geoms = shapely.set_srid(frame.geometry.values, STORAGE_SRID)
    arrays.append(pa.array(shapely.to_wkb(geoms, hex=True, include_srid=True), type=pa.string()))
    table = pa.Table.from_arrays(arrays, names=[*columns, "load_id", "geom"])
    sink = pa.BufferOutputStream()
    pa_csv.write_csv(table, sink, pa_csv.WriteOptions(include_header=False))
    return sink.getvalue().to_pybytes()


def _arrow(series) -> pa.Array:
    try:
        return pa.Array.from_pandas(series)  # NaN, None, NA and NaT all become NULL
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):  # mixed or huge values: PostgreSQL casts the text
        return pa.array([None if v is None else str(v) for v in series.where(series.notna(), None)], type=pa.string())
