"""The pygeoapi feature provider of sdi: reads a theme table in PostGIS, answers in CRS84.

Stock pygeoapi (0.21) reads an EPSG:2180 table as northing/easting, so every bbox and output lands in
the wrong place. This provider does the transformation in SQL, where PostGIS keeps x = easting.
"""

from __future__ import annotations

import logging
import threading
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

import orjson
from flask import has_request_context, request
from psycopg import Connection, sql
from psycopg.rows import DictRow, dict_row
from psycopg_pool import ConnectionPool
from pygeoapi.provider.base import ProviderInvalidQueryError, ProviderItemNotFoundError

from sdi.core import sqlfiles
from sdi.core.db import database_url
from sdi.server import partition_scope
from sdi.server.cql_requests import AFTER_KEY, HIDDEN
from sdi.server.provider_sql import FeatureSql, _spatial
from sdi.server.provider_sql import output_crs as output_crs  # importable here, where it was written

logger = logging.getLogger(__name__)

_POOL: ConnectionPool[Connection[DictRow]] | None = None  # connections whose rows are dicts (kwargs below)
_POOL_LOCK = threading.Lock()

# PostgreSQL type -> JSON Schema type and format, for queryables and the item schema.
_JSON_TYPES = {
    "integer": ("integer", None),
    "bigint": ("integer", None),
    "smallint": ("integer", None),
    "double precision": ("number", None),
    "real": ("number", None),
    "numeric": ("number", None),
    "boolean": ("boolean", None),
    "date": ("string", "date"),
    "timestamp without time zone": ("string", "date-time"),
    "timestamp with time zone": ("string", "date-time"),
}
_HIDDEN = ("geom", "load_id")


def pool() -> ConnectionPool[Connection[DictRow]]:
    """One pool per server process: pygeoapi builds a new provider object for every request."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            # check: a pooled connection to a replica that died is replaced (libpq picks another host)
            # before a request gets it, so losing a replica costs no request.
            _POOL = ConnectionPool(
                database_url(start=False),
                min_size=1,
                max_size=4,
                open=True,
                check=ConnectionPool.check_connection,
                # prepare_threshold None: a statement psycopg prepares may get a generic
                # plan, which keeps every partition of history and locks them all; an
                # unprepared one is planned with the current load ids known, and pruned.
                kwargs={"autocommit": True, "row_factory": dict_row, "prepare_threshold": None},
            )
        return _POOL


class SdiProvider(FeatureSql):
    """OGC API Features over one theme table `data.<theme>`; its SQL pieces are in sdi.server.provider_sql."""

    _fields: dict[str, Any]  # set by pygeoapi's BaseProvider, filled by get_fields

    def __init__(self, provider_def: dict):
        super().__init__(provider_def)
        self.theme = sqlfiles.check_theme(provider_def["data"]["theme"])
        self.table = sqlfiles.theme_table(self.theme)
        self.id_field = "fid"
        self.get_fields()

    def get_fields(self) -> dict:
        """Columns of the theme as JSON Schema types, with each coded field's codes as its enum."""
        if not self._fields:
            self._fields = dict(theme_fields(self.theme))
        return self._fields

    def query(
        self,
        offset=0,
        limit=10,
        resulttype="results",
        bbox=(),
        datetime_=None,
        properties=(),
        sortby=(),
        select_properties=(),
        skip_geometry=False,
        q=None,
        filterq=None,
        crs_transform_spec=None,
        **kwargs,
    ) -> dict:
        """A page of features matching bbox, property filters and the filter, in the requested CRS.

        bbox is what sdi.server.pygeoapi_compat made of the request's: the region of EPSG:2180 it covers;
        filterq is the tree sdi.server.cql_parse made of the request's filter.
        """
        # sdi's keyset paging (after=FID, sdi.server.cql_requests): no argument of pygeoapi's carries it
        after = request.environ.get(AFTER_KEY) if has_request_context() else None
        keyset = after is not None
        if not all(type(n) is int and 0 <= n < 2**63 for n in (limit, offset)):
            # pygeoapi reads `limit=true` as a boolean and passes it on
            raise ProviderInvalidQueryError(user_msg="limit and offset must be whole numbers")
        # An unfiltered page in fid order needs only the loads holding its first offset + limit rows.
        in_fid_order = not (bbox or properties or filterq or sortby) and resulttype != "hits"
        reach = partition_scope.Reach(
            box=tuple(bbox.shape.bounds) if bbox and getattr(bbox, "shape", None) is not None else None,
            first=offset + limit if in_fid_order else None,
            after=after,
        )
        with pool().connection() as conn:
            scope = self._loads(conn, reach)
            where, params = self._where(bbox, properties, filterq, after, loads=(scope.clause, scope.params))
            filtered = bool(bbox or properties or filterq or keyset)
            features = []
            if resulttype != "hits":
                # The page is cut first and only its rows reprojected and encoded: PostgreSQL would
                # otherwise compute the GeoJSON of every row a deep OFFSET skips.
                query = sql.SQL(
                    "SELECT {cols} FROM (SELECT * FROM {t} WHERE {w} ORDER BY {o} LIMIT %s OFFSET %s)"
                    " AS page ORDER BY {o}"
                ).format(
                    cols=self._columns(select_properties, skip_geometry, crs_transform_spec),
                    t=self.table,
                    w=where,
                    o=self._order(sortby, spatial=bool(bbox) or _spatial(filterq), near=list(bbox) if bbox else None),
                )
                features = [self._feature(r) for r in conn.execute(query, [*params, limit, offset])]
            # after a keyset, a count would be of the rest only: numberMatched is left out. A filtered page
            # shorter than the limit holds the last match: its count is known without counting.
            short = resulttype != "hits" and len(features) < limit and (features or offset == 0)
            if keyset:
                matched = None
            elif filtered and short:
                matched = offset + len(features)
            else:
                matched = partition_scope.count(conn, self.theme, where, params, filtered, scope)
        result = {"type": "FeatureCollection", "features": features, "numberReturned": len(features)}
        if matched is not None:
            result["numberMatched"] = matched
        elif features and len(features) == limit and not sortby and not bbox and has_request_context():
            result["links"] = [_keyset_next(features[-1]["id"])]
        return result

    def get(self, identifier, crs_transform_spec=None, **kwargs) -> dict:
        """One feature by its fid, in the requested CRS."""
        try:
            fid = int(identifier)
        except (TypeError, ValueError):
            raise ProviderItemNotFoundError(f"no feature {identifier!r}") from None
        if not 0 < fid < 2**63:  # fids are positive bigints; a larger number would fail to bind
            raise ProviderItemNotFoundError(f"no feature {identifier!r}")
        city = self._city_scope()
        with pool().connection() as conn:
            # only the load whose fid range holds it is planned (sdi.server.partition_scope)
            scope = self._loads(conn, partition_scope.Reach(fid=fid))
            loads, ids = scope.clause, scope.params
            row = conn.execute(
                sql.SQL("SELECT {cols} FROM {t} WHERE fid = %s AND {l}{c}").format(
                    cols=self._columns([], False, crs_transform_spec),
                    t=self.table,
                    l=loads,
                    c=sql.SQL(" AND city = %s" if city else ""),
                ),
                [fid, *ids, *([city] if city else [])],
            ).fetchone()
        if row is None:
            raise ProviderItemNotFoundError(f"no feature {identifier!r}")
        return self._feature(row)

    def _loads(self, conn, reach: partition_scope.Reach) -> partition_scope.Scope:
        """The clause that keeps the query to the partitions it can touch (sdi.server.partition_scope)."""
        return partition_scope.load_clause(conn, self.theme, self._city_scope(), reach)

    @staticmethod
    def _feature(row: dict) -> dict:
        geom = row.pop("geom", None)
        # fid is also a property: QGIS numbers features 1..n and would otherwise hide the real id.
        geometry = orjson.loads(geom) if geom else None
        return {"type": "Feature", "id": row["fid"], "properties": row, "geometry": geometry}


def _keyset_next(last_fid: int) -> dict:
    """The next link of a big result in fid order: `after=<last fid>`, an index range however deep the page."""
    from pygeoapi.flask_app import CONFIG  # the server's public URL, as in pygeoapi's own links

    args = [(k, v) for k, v in request.args.items(multi=True) if k not in ("offset", "after", HIDDEN + "after")]
    base = CONFIG["server"]["url"].rstrip("/") + request.path
    return {
        "type": "application/geo+json",
        "rel": "next",
        "title": "Items (next)",
        "href": f"{base}?{urlencode([*args, ('after', last_fid)])}",
    }


@lru_cache(maxsize=64)
def theme_fields(theme: str) -> dict:
    """{column: JSON Schema} of a theme's view, read once per worker.

    pygeoapi builds a provider for every request; without this, each request would ask
    information_schema again. A catalogue change reloads the workers, and with them this cache.
    """
    with pool().connection() as conn:
        rows = conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = 'data' AND table_name = %s ORDER BY ordinal_position",
            [theme],
        ).fetchall()
    codes = _codes(theme)
    fields: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["column_name"] in _HIDDEN:
            continue
        kind, fmt = _JSON_TYPES.get(row["data_type"], ("string", None))
        field: dict[str, Any] = {"type": kind, **({"format": fmt} if fmt else {})}
        if row["column_name"] in codes:
            field["values"] = codes[row["column_name"]]  # pygeoapi lists them as the queryable's enum
        fields[row["column_name"]] = field
    return fields


@lru_cache(maxsize=32)
def _codes(theme: str) -> dict[str, list[str]]:
    """{field: codes} for the coded fields of a theme's schema."""
    from sdi.core.config import registry

    reg = registry()
    if theme not in reg.schemas:
        return {}
    return {
        name: list(reg.codelists[f.codelist].codes)
        for name, f in reg.schemas[theme].fields.items()
        if f.codelist in reg.codelists
    }
