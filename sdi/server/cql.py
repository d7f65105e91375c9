"""Compile a parsed filter (pygeofilter's AST, from CQL2-JSON or text) into parametrised SQL on a theme.

Property names are checked against the theme's fields and quoted; every value is a bound parameter.
Geometry literals arrive from pygeoapi already in the storage CRS (EPSG:2180) but in its authority
axis order, northing first, so they are flipped before PostGIS, which keeps easting as x, sees them.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re

from psycopg import sql
from pygeoapi.provider.base import ProviderInvalidQueryError
from pygeofilter import ast, values

from sdi.core import sqlfiles
from sdi.server.cql_types import check

logger = logging.getLogger(__name__)

_COMPARE = {
    ast.Equal: "=",
    ast.NotEqual: "<>",
    ast.LessThan: "<",
    ast.LessEqual: "<=",
    ast.GreaterThan: ">",
    ast.GreaterEqual: ">=",
}
_SPATIAL = {
    ast.GeometryIntersects: "ST_Intersects",
    ast.GeometryDisjoint: "ST_Disjoint",
    ast.GeometryContains: "ST_Contains",
    ast.GeometryWithin: "ST_Within",
    ast.GeometryTouches: "ST_Touches",
    ast.GeometryCrosses: "ST_Crosses",
    ast.GeometryOverlaps: "ST_Overlaps",
    ast.GeometryEquals: "ST_Equals",
}
# Temporal predicates on date fields, which are instants: an interval literal is (start, end).
_TEMPORAL = {
    ast.TimeAfter: "{a} > {end}",
    ast.TimeBefore: "{a} < {start}",
    ast.TimeEquals: "{a} = {start}",
    ast.TimeDuring: "({a} > {start} AND {a} < {end})",
    ast.TimeDisjoint: "NOT ({a} BETWEEN {start} AND {end})",
    ast.TimeOverlaps: "{a} BETWEEN {start} AND {end}",
}
_METRES = {"meters": 1.0, "metres": 1.0, "m": 1.0, "kilometers": 1000.0, "kilometres": 1000.0, "km": 1000.0}
_POLISH = ("ąćęłńóśźżĄĆĘŁŃÓŚŹŻ", "acelnoszzACELNOSZZ")


def compile_filter(node, fields: dict) -> tuple[sql.Composable, list]:
    """(WHERE clause, parameters) for a pygeofilter AST over a theme with these fields."""
    try:
        check(node, fields)  # sdi.server.cql_requests checked it already; a provider call from elsewhere too
    except ValueError as exc:
        raise ProviderInvalidQueryError(user_msg=str(exc)) from None
    params: list = []
    return _node(node, fields, params), params


def _node(node, fields: dict, params: list) -> sql.Composable:
    kind = type(node)
    if kind in (ast.And, ast.Or):
        word = " AND " if kind is ast.And else " OR "
        return sql.SQL("({})").format(
            sql.SQL(word).join([_node(node.lhs, fields, params), _node(node.rhs, fields, params)])
        )
    if kind is ast.Not:
        return sql.SQL("NOT ({})").format(_node(node.sub_node, fields, params))
    if kind in _COMPARE:
        return sql.SQL("{} {} {}").format(
            _value(node.lhs, fields, params), sql.SQL(_COMPARE[kind]), _value(node.rhs, fields, params)
        )
    if kind is ast.Like:
        op = "ILIKE" if node.nocase else "LIKE"
        # CQL2 wildcards are % and _, as in SQL; other spellings are translated. The pattern may be
        # wrapped in CASEI or ACCENTI, as QGIS sends it: `CASEI(name) LIKE CASEI('ul.%')`.
        pattern = node.pattern
        if isinstance(pattern, str) and node.wildcard != "%":
            pattern = pattern.replace(node.wildcard, "%").replace(node.singlechar, "_")
        return sql.SQL("{} {} {} {}").format(
            _value(node.lhs, fields, params),
            sql.SQL("NOT" if node.not_ else ""),
            sql.SQL(op),
            _value(pattern, fields, params),
        )
    if kind is ast.In:
        items = sql.SQL(", ").join(_value(v, fields, params) for v in node.sub_nodes)
        return sql.SQL("{} {} IN ({})").format(
            _value(node.lhs, fields, params), sql.SQL("NOT" if node.not_ else ""), items
        )
    if kind is ast.Between:
        return sql.SQL("{} {} BETWEEN {} AND {}").format(
            _value(node.lhs, fields, params),
            sql.SQL("NOT" if node.not_ else ""),
            _value(node.low, fields, params),
            _value(node.high, fields, params),
        )
    if kind is ast.IsNull:
        return sql.SQL("{} IS {} NULL").format(_value(node.lhs, fields, params), sql.SQL("NOT" if node.not_ else ""))
    if kind in _SPATIAL:
        return sql.SQL("{}({}, {})").format(
            sql.SQL(_SPATIAL[kind]), _value(node.lhs, fields, params), _value(node.rhs, fields, params)
        )
    if kind is ast.DistanceWithin:
        if str(node.units).lower() not in _METRES:
            raise ProviderInvalidQueryError(
                user_msg=f"unknown distance units {node.units!r}; use one of {', '.join(_METRES)}"
            )
        # EPSG:2180 is in metres, so the distance applies as it is, once in metres.
        return sql.SQL("ST_DWithin({}, {}, {})").format(
            _value(node.lhs, fields, params),
            _value(node.rhs, fields, params),
            _param(float(node.distance) * _METRES[str(node.units).lower()], params),
        )
    if kind is ast.BBox:
        return sql.SQL("{} && ST_MakeEnvelope({}, {}, {}, {}, 4326)::geometry").format(
            _value(node.lhs, fields, params),
            *(_param(float(v), params) for v in (node.minx, node.miny, node.maxx, node.maxy)),
        )
    if kind in _TEMPORAL:
        start, end = _interval(node.rhs)
        # Pieces are made in the order they appear, so that the bound parameters line up with the SQL.
        pieces = {
            "a": lambda: _value(node.lhs, fields, params),
            "start": lambda: _param(start, params),
            "end": lambda: _param(end, params),
        }
        parts = re.split(r"\{(a|start|end)\}", _TEMPORAL[kind])
        return sql.Composed([sql.SQL(p) if i % 2 == 0 else pieces[p]() for i, p in enumerate(parts)])
    raise ProviderInvalidQueryError(user_msg=f"this filter operation is not supported: {kind.__name__}")


def _value(value, fields: dict, params: list) -> sql.Composable:
    if isinstance(value, ast.Attribute):
        if value.name in ("geom", "geometry"):
            return sql.SQL("geom")
        if value.name not in fields:
            raise ProviderInvalidQueryError(
                user_msg=f"unknown property {value.name!r} in the filter; queryable: {', '.join(fields)}"
            )
        return sqlfiles.ident(value.name)
    if isinstance(value, ast.Function):
        name = value.name.lower()
        inner = _value(value.arguments[0], fields, params)
        if name in ("lower", "casei"):
            return sql.SQL("lower({})").format(inner)
        if name == "accenti":
            # Polish diacritics folded by hand: no unaccent extension needed on the server.
            return sql.SQL("translate({}, {}, {})").format(inner, sql.Literal(_POLISH[0]), sql.Literal(_POLISH[1]))
        raise ProviderInvalidQueryError(user_msg=f"unknown function {value.name!r} in the filter")
    if isinstance(value, values.Geometry):
        geojson = {k: v for k, v in value.geometry.items() if k != "crs"}
        return sql.SQL("ST_FlipCoordinates(ST_SetSRID(ST_GeomFromGeoJSON({}), 2180))").format(
            _param(json.dumps(geojson), params)
        )
    if isinstance(value, values.Envelope):
        return sql.SQL("ST_FlipCoordinates(ST_MakeEnvelope({}, {}, {}, {}, 2180))").format(
            *(_param(float(v), params) for v in (value.x1, value.y1, value.x2, value.y2))
        )
    if isinstance(value, (str, int, float, bool, dt.date, dt.datetime)):
        return _param(value, params)
    raise ProviderInvalidQueryError(user_msg=f"unsupported value in the filter: {value!r}")


def _param(value, params: list) -> sql.Composable:
    params.append(value)
    return sql.SQL("%s")


def _interval(value) -> tuple:
    if isinstance(value, values.Interval):
        return value.start, value.end
    if isinstance(value, (dt.date, dt.datetime)):
        return value, value
    raise ProviderInvalidQueryError(user_msg=f"a temporal filter needs a date or an interval, not {value!r}")
