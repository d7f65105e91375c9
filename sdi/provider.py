"""The pygeoapi feature provider of sdi: reads a theme table in PostGIS, answers in CRS84.

Stock pygeoapi (0.21) reads an EPSG:2180 table as northing/easting, so every bbox and output lands in
the wrong place. This provider does the transformation in SQL, where PostGIS keeps x = easting.
"""

from __future__ import annotations

import json
import logging
import threading

from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool
from pygeoapi.provider.base import BaseProvider, ProviderItemNotFoundError, ProviderQueryError

from sdi import sqlfiles
from sdi.db import database_url

logger = logging.getLogger(__name__)

_POOL: ConnectionPool | None = None
_POOL_LOCK = threading.Lock()

# PostgreSQL type -> JSON Schema type and format, for queryables and the item schema.
_JSON_TYPES = {
    "integer": ("integer", None), "bigint": ("integer", None), "smallint": ("integer", None),
    "double precision": ("number", None), "real": ("number", None), "numeric": ("number", None),
    "boolean": ("boolean", None), "date": ("string", "date"),
    "timestamp without time zone": ("string", "date-time"), "timestamp with time zone": ("string", "date-time"),
}
_HIDDEN = ("geom", "load_id")


def _pool() -> ConnectionPool:
    """One pool per server process: pygeoapi builds a new provider object for every request."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ConnectionPool(database_url(start=False), min_size=1, max_size=4, open=True,
                                   kwargs={"autocommit": True, "row_factory": dict_row})
        return _POOL


class SdiProvider(BaseProvider):
    """OGC API Features over one theme table `data.<theme>`."""

    def __init__(self, provider_def: dict):
        super().__init__(provider_def)
        self.theme = sqlfiles.check_theme(provider_def["data"]["theme"])
        self.table = sqlfiles.theme_table(self.theme)
        self.id_field = "fid"
        self.get_fields()

    def get_fields(self) -> dict:
        """Columns of the theme table as JSON Schema types (geometry and bookkeeping left out)."""
        if not self._fields:
            with _pool().connection() as conn:
                rows = conn.execute(
                    "SELECT column_name, data_type FROM information_schema.columns"
                    " WHERE table_schema = 'data' AND table_name = %s ORDER BY ordinal_position",
                    [self.theme]).fetchall()
            for row in rows:
                if row["column_name"] in _HIDDEN:
                    continue
                kind, fmt = _JSON_TYPES.get(row["data_type"], ("string", None))
                self._fields[row["column_name"]] = {"type": kind, **({"format": fmt} if fmt else {})}
        return self._fields

    def query(self, offset=0, limit=10, resulttype="results", bbox=[], datetime_=None, properties=[],
              sortby=[], select_properties=[], skip_geometry=False, q=None, filterq=None,
              crs_transform_spec=None, **kwargs) -> dict:
        """A page of features matching bbox (CRS84) and property equality filters."""
        where, params = self._where(bbox, properties)
        with _pool().connection() as conn:
            matched = conn.execute(sql.SQL("SELECT count(*) AS n FROM {t} WHERE {w}").format(
                t=self.table, w=where), params).fetchone()["n"]
            features = []
            if resulttype != "hits":
                query = sql.SQL("SELECT {cols} FROM {t} WHERE {w} ORDER BY fid LIMIT %s OFFSET %s").format(
                    cols=self._columns(select_properties, skip_geometry), t=self.table, w=where)
                features = [self._feature(r) for r in conn.execute(query, [*params, limit, offset])]
        return {"type": "FeatureCollection", "features": features,
                "numberMatched": matched, "numberReturned": len(features)}

    def get(self, identifier, crs_transform_spec=None, **kwargs) -> dict:
        """One feature by its fid."""
        try:
            fid = int(identifier)
        except (TypeError, ValueError):
            raise ProviderItemNotFoundError(f"no feature {identifier!r}") from None
        with _pool().connection() as conn:
            row = conn.execute(sql.SQL("SELECT {cols} FROM {t} WHERE fid = %s").format(
                cols=self._columns([], False), t=self.table), [fid]).fetchone()
        if row is None:
            raise ProviderItemNotFoundError(f"no feature {identifier!r}")
        return self._feature(row)

    # -- SQL pieces --------------------------------------------------------------------------------
    def _columns(self, select_properties: list[str], skip_geometry: bool) -> sql.Composed:
        names = [c for c in self.fields if not select_properties or c in select_properties or c == "fid"]
        cols = [sqlfiles.ident(c) for c in dict.fromkeys(["fid", *names])]
        if not skip_geometry:
            cols.append(sql.SQL("ST_AsGeoJSON(ST_Transform(geom, 4326), 7) AS geom"))
        return sql.SQL(", ").join(cols)

    def _where(self, bbox: list, properties: list) -> tuple[sql.Composable, list]:
        clauses: list[sql.Composable] = [sql.SQL("true")]
        params: list = []
        if bbox:
            if len(bbox) != 4:
                raise ProviderQueryError("bbox must have four numbers")
            clauses.append(sql.SQL("geom && ST_Transform(ST_MakeEnvelope(%s, %s, %s, %s, 4326), 2180)"))
            params += [float(v) for v in bbox]
        for name, value in properties:
            if name not in self.fields:
                raise ProviderQueryError(f"unknown property {name!r}")
            clauses.append(sql.SQL("{}::text = %s").format(sqlfiles.ident(name)))
            params.append(str(value))
        return sql.SQL(" AND ").join(clauses), params

    @staticmethod
    def _feature(row: dict) -> dict:
        geom = row.pop("geom", None)
        # fid is also a property: QGIS numbers features 1..n and would otherwise hide the real id.
        return {"type": "Feature", "id": row["fid"], "properties": row,
                "geometry": json.loads(geom) if geom else None}
