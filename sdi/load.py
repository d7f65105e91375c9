"""Write a harmonised frame to PostGIS: staging table <- COPY, then swap the city's rows in one transaction.

Either the data, its provenance row and its rejects all commit, or nothing changes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import psycopg
import shapely
from psycopg import sql

from sdi import catalogue, sqlfiles
from sdi.config import Schema
from sdi.convert import PG_TYPES
from sdi.errors import LoadError
from sdi.settings import STORAGE_SRID

logger = logging.getLogger(__name__)

_STAGING = sql.Identifier("sdi_staging")


@dataclass
class Provenance:
    """Where a load came from: source path, layer, mapping and what was detected on reading."""

    source: str
    source_layer: str | None
    detected: dict


def load(conn: psycopg.Connection, frame: gpd.GeoDataFrame, rejects: list[dict], *, city: str, schema: Schema,
         provenance: Provenance) -> int:
    """Replace the (city, theme) rows with `frame` atomically; returns the new load id."""
    theme = schema.id
    table = sqlfiles.theme_table(theme)
    columns = ["city", "source_id", *schema.fields]
    try:
        with conn.transaction():
            load_id = catalogue.record_load(
                conn, city=city, theme=theme, source=provenance.source, source_layer=provenance.source_layer,
                feature_count=len(frame), reject_count=len(rejects), detected=provenance.detected)
            ensure_theme_table(conn, schema)
            _copy_to_staging(conn, frame, schema, columns)
            conn.execute(sql.SQL("DELETE FROM {} WHERE city = %s").format(table), [city])
            cols = sql.SQL(", ").join(sqlfiles.ident(c) for c in columns)
            conn.execute(sql.SQL("INSERT INTO {t} ({cols}, load_id, geom) SELECT {cols}, %s,"
                                 " ST_SetSRID(ST_GeomFromWKB(geom), {srid}) FROM {s}").format(
                t=table, cols=cols, srid=sql.Literal(STORAGE_SRID), s=_STAGING), [load_id])
            catalogue.set_current(conn, city=city, theme=theme, load_id=load_id)
            catalogue.record_rejects(conn, load_id, rejects)
    except psycopg.errors.DataError as exc:
        raise LoadError(f"PostGIS refused the {theme} data ({exc.diag.message_primary})",
                        "nothing was changed; check the mapping's types with `sdi check`") from None
    logger.info("load %d: %d features of %s for city %s", load_id, len(frame), theme, city)
    return load_id


def ensure_theme_table(conn: psycopg.Connection, schema: Schema) -> None:
    """Create the theme table from its schema on first load; add fields that the schema gained since."""
    theme = schema.id
    table = sqlfiles.theme_table(theme)
    conn.execute(sql.SQL(
        "CREATE TABLE IF NOT EXISTS {t} (fid bigserial PRIMARY KEY, city char(7) NOT NULL, source_id text,"
        " load_id bigint NOT NULL, geom geometry({g}, {srid}) NOT NULL)").format(
        t=table, g=sql.SQL(schema.geometry), srid=sql.Literal(STORAGE_SRID)))
    for col, kind in schema.fields.items():
        conn.execute(sql.SQL("ALTER TABLE {t} ADD COLUMN IF NOT EXISTS {c} {ty}").format(
            t=table, c=sqlfiles.ident(col), ty=sql.SQL(PG_TYPES[kind.type])))
    conn.execute(sql.SQL("CREATE INDEX IF NOT EXISTS {i} ON {t} USING gist (geom)").format(
        i=sql.Identifier(f"{theme}_geom_idx"), t=table))
    conn.execute(sql.SQL("CREATE INDEX IF NOT EXISTS {i} ON {t} (city)").format(
        i=sql.Identifier(f"{theme}_city_idx"), t=table))


def _copy_to_staging(conn: psycopg.Connection, frame: gpd.GeoDataFrame, schema: Schema, columns: list[str]) -> None:
    types = {"city": "text", "source_id": "text", **{k: PG_TYPES[f.type] for k, f in schema.fields.items()}}
    defs = [sql.SQL("{} {}").format(sqlfiles.ident(c), sql.SQL(types[c])) for c in columns]
    conn.execute(sql.SQL("CREATE TEMP TABLE {s} ({defs}, geom bytea) ON COMMIT DROP").format(
        s=_STAGING, defs=sql.SQL(", ").join(defs)))
    wkb = shapely.to_wkb(frame.geometry.values, include_srid=False)
    values = [_python_values(frame[c]) for c in columns]
    copy_sql = sql.SQL("COPY {s} ({cols}, geom) FROM STDIN").format(
        s=_STAGING, cols=sql.SQL(", ").join(sqlfiles.ident(c) for c in columns))
    with conn.cursor().copy(copy_sql) as copy:
        for row in zip(*values, wkb):
            copy.write_row(row)


def _python_values(series) -> list:
    """Plain Python values with None for every kind of missing value."""
    values = series.astype(object).where(series.notna(), None).tolist()
    return [v.item() if isinstance(v, np.generic) else v for v in values]
