"""Write a harmonised frame to PostGIS: COPY into the theme's history, then make it current, in one transaction.

Either the data, its provenance row and its rejects all commit, or nothing changes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import psycopg
import shapely
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter

from sdi.core import catalogue, sqlfiles
from sdi.core.catalogue import Provenance
from sdi.core.config import Schema
from sdi.core.db import scalar
from sdi.core.errors import LoadError
from sdi.core.settings import STORAGE_SRID
from sdi.loader import partitions, pgcopy
from sdi.loader.convert import PG_TYPES
from sdi.loader.guard import LoadRefused

logger = logging.getLogger(__name__)


class _DryRun(Exception):
    """Raised inside the load transaction to roll a --dry-run back after every step has run."""


@dataclass
class Loaded:
    """What a load wrote: its id (None after a dry run), and how many features it stored and rejected."""

    load_id: int | None
    features: int
    rejects: int


def load(
    conn: psycopg.Connection,
    batches: Iterable[tuple[gpd.GeoDataFrame, list[dict]]],
    *,
    city: str,
    schema: Schema,
    provenance: Provenance,
    dry_run: bool = False,
    progress: Callable[[int], None] = lambda _: None,
    before_publish: Callable[[int, int], None] = lambda stored, rejected: None,
) -> Loaded:
    """Add the batches as a new version of (city, theme) and make it current, atomically.

    `batches` yields harmonised frames with their rejects; it is consumed inside the transaction, so
    a failure anywhere (reading included) or a kill leaves the previous version current.
    `before_publish(stored, rejected)` runs inside that transaction after the rows are stored and before the
    version is finished and made current. If it raises LoadRefused (the load guard), the version is kept,
    finished but not current, with its rejects (so that `sdi rejects` shows why), and the LoadRefused is
    raised again after the commit; any other exception rolls everything back, load row included.
    """
    theme = schema.id
    own = catalogue.own_city(conn, city)
    ensure_theme_table(conn, schema)
    columns = ["city", "source_id", *schema.fields]
    rejects: list[dict] = []
    refused: LoadRefused | None = None
    try:
        with catalogue.load_errors(), conn.transaction():
            catalogue.lock_layer(conn, city, theme)
            load_id = catalogue.record_load(conn, city=city, theme=theme, provenance=provenance, fresh=True)
            # The load's own table, with no index: its cost is its own size, whatever the history holds.
            part = scalar(conn.execute("SELECT sdi.open_load_table(%s)", [load_id]))
            stored = _copy(
                conn,
                batches,
                schema,
                columns,
                rejects,
                progress,
                load_id=load_id,
                target=sql.Identifier("history", part),
            )
            conn.execute("SELECT sdi.close_load_table(%s)", [load_id])  # indexes built once, then attached
            try:
                before_publish(stored, len(rejects))
            except LoadRefused as exc:
                refused = exc
            catalogue.record_rejects(conn, load_id, rejects)
            # Rows and rejects first: the database checks the counts against them, then the switch.
            catalogue.finish_load(conn, load_id, stored, len(rejects))
            if refused is None:
                catalogue.set_current(conn, city=city, theme=theme, load_id=load_id)
            if dry_run:
                raise _DryRun
    except _DryRun:
        logger.info("dry run: load of %s for %s rolled back", theme, city)
        if refused is not None:
            raise refused from None
        return Loaded(None, stored, len(rejects))
    except psycopg.errors.DataError as exc:
        raise LoadError(
            f"PostGIS refused the {theme} data ({exc.diag.message_primary})",
            "nothing was changed; check the mapping's types with `sdi check`",
        ) from None
    if refused is not None:
        logger.info("load %d of %s for %s kept as a version that is not current: %s", load_id, theme, city, refused)
        raise refused
    # The load's partition was ANALYZEd before it was attached; the layers table is tiny. A city's login
    # may not ANALYZE it: then autovacuum will.
    if own is None:
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
    have = {
        r[0]
        for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'history' AND table_name = %s",
            [theme],
        )
    }
    missing = [c for c in ("source_id", *schema.fields) if c not in have]
    marker = _view_marker(schema)
    partitioned = scalar(conn.execute("SELECT sdi.partitioned(%s)", [theme]))
    if have and not missing and partitioned and _view_comment(conn, theme) == marker:
        return
    if scalar(conn.execute("SELECT sdi.current_city()")) is not None:
        raise LoadError(
            f"the {theme} table is {'missing' if not have else 'out of date'} and a city's login"
            " may not create or change tables",
            "ask the administrator to run `sdi init`",
        )
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('sdi.ddl'), hashtext(%s))", [theme])
        convert = bool(have) and not partitioned
        if convert:
            partitions.convert(conn, theme)  # a table of before issue 17: one partition per load
        # PRIMARY KEY (fid, load_id): a partitioned table's key must hold the partition key; fid first, so
        # that items/{fid} and the after= keyset are index lookups in each current partition.
        conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {t} (fid bigserial, city char(7) NOT NULL, source_id text,"
                " load_id bigint NOT NULL, geom geometry({g}, {srid}) NOT NULL, PRIMARY KEY (fid, load_id))"
                " PARTITION BY LIST (load_id)"
            ).format(t=table, g=sql.SQL(schema.geometry), srid=sql.Literal(STORAGE_SRID))
        )
        # Tables made before version 2 of the catalogue lack source_id.
        types = {"source_id": "text", **{col: PG_TYPES[kind.type] for col, kind in schema.fields.items()}}
        for col, pg_type in types.items():
            conn.execute(
                sql.SQL("ALTER TABLE {t} ADD COLUMN IF NOT EXISTS {c} {ty}").format(
                    t=table, c=sqlfiles.ident(col), ty=sql.SQL(pg_type)
                )
            )
        # No load_id index: the partition bound is the load. Each load builds its GiST index itself.
        conn.execute(
            sql.SQL("CREATE INDEX IF NOT EXISTS {i} ON {t} USING gist (geom)").format(
                i=sql.Identifier(f"{theme}_geom_idx"), t=table
            )
        )
        # A restricted theme's view shows a city's login only its own rows; the owner and the API's reader
        # (whose current_city() is NULL) see every city, and the API filters by the token's city.
        restricted = sql.SQL(
            "WHERE (SELECT sdi.current_city()) IS NULL OR h.city = (SELECT sdi.current_city())"
            if schema.access == "restricted"
            else ""
        )
        conn.execute(
            sql.SQL(sqlfiles.load("theme_view.sql")).format(
                v=view, t=table, theme=sql.Literal(theme), restricted=restricted, marker=sql.Literal(marker)
            )
        )
        # A city's login writes only its own rows (migrations 0003 and 0005 explain the roles).
        conn.execute(
            sql.SQL(sqlfiles.load("theme_security.sql")).format(
                t=table, v=view, name=sql.Identifier(theme), theme=sql.Literal(theme)
            )
        )
        if convert:
            partitions.drop_old(conn, theme)


def _view_marker(schema: Schema) -> str:
    """The comment that names the form of a theme's view, so that a change of access rebuilds it."""
    return f"sdi view 3 ({schema.access})"


def _view_comment(conn: psycopg.Connection, theme: str) -> str | None:
    return scalar(conn.execute("SELECT obj_description(to_regclass(%s), 'pg_class')", [f"data.{theme}"]))


def _copy(
    conn: psycopg.Connection,
    batches: Iterable[tuple[gpd.GeoDataFrame, list[dict]]],
    schema: Schema,
    columns: list[str],
    rejects: list[dict],
    progress: Callable[[int], None],
    *,
    load_id: int,
    target: sql.Composable,
) -> int:
    """Binary-COPY every batch into the load's own table; collect the rejects; return the rows written.

    Each batch is encoded column by column with numpy (sdi.loader.pgcopy), geometry as raw EWKB: no CSV or
    hex for PostgreSQL to parse, no Python loop per row. A writer thread sends it, so that PostgreSQL
    stores one batch while we read and harmonise the next (on 2 cores this overlap is most of the speed).
    The table has no row-level security and no index; a city's login may write it for this load only.
    """
    names = sql.SQL(", ").join(sqlfiles.ident(c) for c in [*columns, "load_id", "geom"])
    encoders = [pgcopy.text, pgcopy.text, *(_ENCODERS[kind.type] for kind in schema.fields.values())]
    written = 0
    cursor = conn.cursor()
    copy_sql = sql.SQL("COPY {t} ({n}) FROM STDIN (FORMAT binary)").format(t=target, n=names)
    with cursor.copy(copy_sql, writer=QueuedLibpqWriter(cursor)) as copy:
        copy.write(pgcopy.HEADER)
        for frame, batch_rejects in batches:
            rejects += batch_rejects
            if len(frame):
                copy.write(_binary(frame, columns, encoders, load_id))
            written += len(frame)
            progress(len(frame))
        copy.write(pgcopy.TRAILER)
    return written


_ENCODERS = {
    "string": pgcopy.text,
    "integer": pgcopy.bigint,
    "number": pgcopy.double,
    "boolean": pgcopy.boolean,
    "date": pgcopy.date,
}


def _binary(frame: gpd.GeoDataFrame, columns: list[str], encoders: list, load_id: int) -> bytes:
    """The rows in binary COPY form: the schema's columns, load_id, and the geometry as EWKB in EPSG:2180."""
    try:
        fields = [encode(frame[c]) for c, encode in zip(columns, encoders, strict=True)]
    except (OverflowError, ValueError, TypeError) as exc:
        raise LoadError(
            f"a value does not fit its column in PostGIS ({exc})",
            "nothing was changed; check the mapping's types with `sdi check`",
        ) from None
    fields.append(pgcopy.constant_bigint(load_id, len(frame)))
    fields.append(_geometry(frame.geometry.values))
    return pgcopy.rows(fields)


def _geometry(geoms) -> pgcopy.Field:
    """The geometry column as EWKB in EPSG:2180; 2D points straight from their coordinates, without GEOS's WKB."""
    data = np.asarray(geoms)
    if (shapely.get_type_id(data) == 0).all() and not shapely.has_z(data).any() and not shapely.is_empty(data).any():
        return pgcopy.point_ewkb(shapely.get_x(data), shapely.get_y(data), STORAGE_SRID)
    return pgcopy.ewkb(shapely.to_wkb(data, hex=False, byte_order=1), STORAGE_SRID)
