"""The SQL that sdi's feature provider (sdi.server.provider) builds its queries of: the output columns in the
requested CRS, the order of a page and its WHERE clause, each over one theme table in EPSG:2180.

The pieces are methods of a base class of SdiProvider, so that they read the provider's fields and the
request's city scope as they did when they were its own; a request builds nothing more than before.
"""

from __future__ import annotations

from functools import lru_cache

from flask import has_request_context, request
from psycopg import sql
from pygeoapi.provider.base import BaseProvider, ProviderInvalidQueryError
from pyproj import CRS

from sdi.core import sqlfiles
from sdi.core.config import restricted_themes
from sdi.core.settings import CRS84, STORAGE_CRS
from sdi.server.access import CITY_KEY
from sdi.server.cql import compile_filter
from sdi.server.limits import filter_problem


class FeatureSql(BaseProvider):
    """The SQL pieces of SdiProvider's queries over the theme table `data.<theme>`."""

    theme: str  # set by SdiProvider

    def _city_scope(self) -> str | None:
        """The city of a city-bound token, for a restricted theme; None when every city may be read."""
        if self.theme in restricted_themes() and has_request_context():
            return request.environ.get(CITY_KEY)
        return None

    # -- SQL pieces --------------------------------------------------------------------------------
    def _columns(self, select_properties: list[str], skip_geometry: bool, crs_transform_spec=None) -> sql.Composed:
        names = [c for c in self.fields if not select_properties or c in select_properties or c == "fid"]
        cols: list[sql.Composable] = [sqlfiles.ident(c) for c in dict.fromkeys(["fid", *names])]
        if not skip_geometry:
            # pygeoapi passes no transform spec exactly when the requested CRS is the storage CRS.
            epsg, flip, digits = output_crs(crs_transform_spec.target_crs_uri if crs_transform_spec else STORAGE_CRS)
            geom = sql.SQL("ST_Transform(geom, {})").format(sql.Literal(epsg))
            if flip:
                geom = sql.SQL("ST_FlipCoordinates({})").format(geom)
            # options 0: no legacy GeoJSON "crs" member (RFC 7946 has none; Content-Crs says the CRS)
            cols.append(sql.SQL("ST_AsGeoJSON({}, {}, 0) AS geom").format(geom, sql.Literal(digits)))
        return sql.SQL(", ").join(cols)

    def _order(self, sortby: list[dict], spatial: bool = False, near: list[float] | None = None) -> sql.Composable:
        keys = []
        for s in sortby or []:
            if s["property"] not in self.fields:
                raise ProviderInvalidQueryError(user_msg=f"cannot sort by unknown property {s['property']!r}")
            direction = "DESC" if s.get("order") == "-" else "ASC"
            # Empty values last either way: a planner sorting by capacity wants the known ones first.
            keys.append(sql.SQL("{} {} NULLS LAST").format(sqlfiles.ident(s["property"]), sql.SQL(direction)))
        if near and not keys:
            # A bbox page, nearest to the box's centre first: the GiST index hands rows over in that order
            # and the scan stops after one page, however many rows the box holds (0.7 ms, where finding and
            # sorting 3,856 matches by fid took 8 to 25 ms in 3M points). No tie-breaker: a second key makes
            # PostgreSQL sort every match again. Ties (identical points) keep the index's own order.
            x, y = (near[0] + near[2]) / 2, (near[1] + near[3]) / 2
            return sql.SQL("geom <-> ST_SetSRID(ST_MakePoint({}, {}), 2180)").format(sql.Literal(x), sql.Literal(y))
        # With a spatial filter, `fid + 0` keeps PostgreSQL from walking the primary key in order and
        # testing every row against the shape (170 ms for a 1 km² box in 600,000 rows): it uses the GiST
        # index and sorts what matched. An attribute filter usually matches many rows, and there the walk
        # stops after one page, so it keeps the plain key.
        return sql.SQL(", ").join([*keys, sql.SQL("fid + 0" if spatial else "fid")])

    def _where(
        self,
        bbox: list,
        properties: list,
        filterq=None,
        after: int | None = None,
        loads: tuple[sql.Composable, list] = (sql.SQL("true"), []),
    ) -> tuple[sql.Composable, list]:
        clauses: list[sql.Composable] = [loads[0]]
        params: list = list(loads[1])
        if bbox:
            shape = getattr(bbox, "shape", None)
            if shape is None:
                raise ProviderInvalidQueryError(user_msg="bbox must be given as the bbox query parameter")
            if shape.is_empty:
                clauses.append(sql.SQL("false"))  # the box misses Poland's area of use altogether
            else:
                # Every feature whose geometry intersects the region, not its envelope (Part 1,
                # /req/core/fc-bbox-response). ST_Intersects reaches the GiST index by itself (PostGIS 3 adds
                # `geom && region`). An explicit && beside it had PostgreSQL count the box's selectivity twice:
                # at 10M points a 1 km² box of 12,420 matches was expected to hold 2, and the page fetched and
                # sorted every match (66-99 ms) instead of reading the 100 nearest from the index (1.3 ms).
                clauses.append(sql.SQL("ST_Intersects(geom, ST_GeomFromWKB(%s, 2180))"))
                params.append(shape.wkb)
        if after is not None:
            clauses.append(sql.SQL("fid > %s"))
            params.append(after)
        for name, value in properties:
            if name not in self.fields:
                raise ProviderInvalidQueryError(user_msg=f"unknown property {name!r}")
            clauses.append(sql.SQL("{}::text = %s").format(sqlfiles.ident(name)))
            params.append(str(value))
        city = self._city_scope()
        if city:
            # a token made for one city opens only that city's rows of a restricted theme (sdi.server.access)
            clauses.append(sql.SQL("city = %s"))
            params.append(city)
        if filterq is not None:
            problem = filter_problem(filterq)  # also ECQL, which pygeoapi parses itself
            if problem:
                raise ProviderInvalidQueryError(user_msg=problem)
            clause, extra = compile_filter(filterq, self.fields)
            clauses.append(clause)
            params += extra
        if any(isinstance(p, str) and "\x00" in p for p in params):
            raise ProviderInvalidQueryError(user_msg="filter values cannot contain the NUL character")
        return sql.SQL(" AND ").join(clauses), params


@lru_cache(maxsize=16)
def output_crs(uri: str) -> tuple[int | None, bool, int]:
    """(EPSG code, flip to authority axis order?, decimals) of the requested output CRS.

    CRS84 is lon/lat. EPSG:4326 is lat/lon, and EPSG:2180 and 2176-2179 are northing/easting by their
    definitions, which OGC API Features Part 2 requires and GDAL's OAPIF driver expects.
    """
    if uri in (CRS84, "http://www.opengis.net/def/crs/OGC/1.3/CRS84h"):
        return 4326, False, 7
    crs = CRS.from_user_input(uri)
    flip = crs.axis_info[0].direction.lower() == "north"
    return crs.to_epsg(), flip, 7 if crs.is_geographic else 3


def _spatial(node) -> bool:
    """Whether a parsed filter has a spatial predicate anywhere."""
    if node is None:
        return False
    if type(node).__name__.startswith(("Geometry", "DistanceWithin", "DistanceBeyond", "BBox")):
        return True
    return any(_spatial(getattr(node, name, None)) for name in ("lhs", "rhs", "sub_node"))
