"""Type-check a parsed CQL2 filter against a theme's queryables before any SQL runs.

`floors = 'abc'` reached PostgreSQL as it was and came back as a 500 with an HTML page. CQL2 (21-065r2)
types every operator: comparisons of like with like, LIKE and CASEI on strings only, spatial operators on
geometries only, temporal operators on dates and timestamps only. A mismatch is the client's mistake, told
as a FilterTypeError naming the property, the type it has and the literal that does not fit.
"""

from __future__ import annotations

import datetime as dt
import logging

from pygeofilter import ast, values

logger = logging.getLogger(__name__)

_COMPARE = (ast.Equal, ast.NotEqual, ast.LessThan, ast.LessEqual, ast.GreaterThan, ast.GreaterEqual)
_ORDERED = (ast.LessThan, ast.LessEqual, ast.GreaterThan, ast.GreaterEqual)
_SPATIAL = (
    ast.GeometryIntersects,
    ast.GeometryDisjoint,
    ast.GeometryContains,
    ast.GeometryWithin,
    ast.GeometryTouches,
    ast.GeometryCrosses,
    ast.GeometryOverlaps,
    ast.GeometryEquals,
    ast.DistanceWithin,
)
_TEMPORAL = (ast.TimeAfter, ast.TimeBefore, ast.TimeEquals, ast.TimeDuring, ast.TimeDisjoint, ast.TimeOverlaps)
_STRING_FUNCTIONS = ("lower", "casei", "accenti")
GEOMETRY_NAMES = ("geom", "geometry")


class FilterTypeError(ValueError):
    """A literal or operator that does not fit the property's type: a 400 with all three named."""

    def __init__(self, prop: str, expected: str, literal: object, why: str = ""):
        self.prop, self.expected, self.literal = prop, expected, _show(literal)
        super().__init__(
            why
            or f"property {prop!r} is of type {expected}, not comparable with {self.literal}: give a {expected} literal"
        )


def kind_of_field(field: dict) -> str:
    """CQL2's name for the type of a queryable (JSON Schema type and format)."""
    kind, fmt = field.get("type"), field.get("format")
    if kind in ("integer", "number"):
        return "number"
    if kind == "boolean":
        return "boolean"
    if fmt == "date":
        return "date"
    if fmt == "date-time":
        return "timestamp"
    return "string"


def kind_of_literal(value) -> str | None:
    """The type of a literal; None for what is not a literal (a property, a function)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dt.datetime):
        return "timestamp"
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, (values.Geometry, values.Envelope)):
        return "geometry"
    if isinstance(value, values.Interval):
        return "interval"
    return None


def check(tree, fields: dict) -> None:
    """Raise FilterTypeError (or ValueError for an unknown property) where the filter's types do not fit."""
    _node(tree, fields)


def _node(node, fields: dict) -> None:
    if isinstance(node, (ast.And, ast.Or)):
        _node(node.lhs, fields)
        _node(node.rhs, fields)
    elif isinstance(node, ast.Not):
        _node(node.sub_node, fields)
    elif isinstance(node, _COMPARE):
        _compare(node.lhs, node.rhs, fields, ordered=isinstance(node, _ORDERED))
    elif isinstance(node, ast.Like):
        name, kind = _operand(node.lhs, fields)
        if kind != "string":
            raise FilterTypeError(name, kind, node.pattern, f"LIKE works on text; property {name!r} is of type {kind}")
        pattern = node.pattern
        while (
            isinstance(pattern, ast.Function)
            and pattern.name.lower() in _STRING_FUNCTIONS
            and len(pattern.arguments) == 1
        ):
            pattern = pattern.arguments[0]  # CASEI('UL. %'), as QGIS 3.32+ writes it
        if not isinstance(pattern, str):
            raise FilterTypeError(name, "string", node.pattern, "a LIKE pattern is a text literal, e.g. 'ul. %'")
    elif isinstance(node, ast.In):
        for item in node.sub_nodes:
            _compare(node.lhs, item, fields)
    elif isinstance(node, ast.Between):
        name, kind = _operand(node.lhs, fields)
        if kind not in ("number", "date", "timestamp"):
            raise FilterTypeError(name, kind, node.low, f"BETWEEN works on numbers and dates; {name!r} is {kind}")
        _compare(node.lhs, node.low, fields)
        _compare(node.lhs, node.high, fields)
    elif isinstance(node, ast.IsNull):
        _operand(node.lhs, fields)
    elif isinstance(node, _SPATIAL):
        for side in (node.lhs, node.rhs):
            name, kind = _operand(side, fields)
            if kind != "geometry":
                raise FilterTypeError(name, kind, side, f"spatial operators take geometries; {name!r} is {kind}")
    elif isinstance(node, ast.BBox):
        name, kind = _operand(node.lhs, fields)
        if kind != "geometry":
            raise FilterTypeError(name, kind, node.lhs, f"BBOX takes a geometry; {name!r} is {kind}")
    elif isinstance(node, _TEMPORAL):
        name, kind = _operand(node.lhs, fields)
        if kind not in ("date", "timestamp"):
            raise FilterTypeError(name, kind, node.rhs, f"temporal operators take dates; {name!r} is {kind}")
        if kind_of_literal(node.rhs) not in ("date", "timestamp", "interval"):
            raise FilterTypeError(
                name, kind, node.rhs, "a temporal operator needs DATE(...), TIMESTAMP(...) or INTERVAL(...)"
            )


def _compare(lhs, rhs, fields: dict, ordered: bool = False) -> None:
    left, right = _operand(lhs, fields), _operand(rhs, fields)
    (name, want), (_, got) = (left, right) if kind_of_literal(lhs) is None else (right, left)
    literal = rhs if kind_of_literal(lhs) is None else lhs
    if want != got:
        raise FilterTypeError(name, want, literal)
    if want in ("geometry", "boolean") and ordered:
        raise FilterTypeError(
            name, want, literal, f"property {name!r} is of type {want}, and {want}s have no order: use = or <>"
        )


def _operand(value, fields: dict) -> tuple[str, str]:
    """(what to call it, its type) of one side of an operator."""
    if isinstance(value, ast.Attribute):
        if value.name in GEOMETRY_NAMES:
            return value.name, "geometry"
        if value.name not in fields:
            raise ValueError(f"unknown property {value.name!r} in the filter; queryable: {', '.join(fields)}")
        return value.name, kind_of_field(fields[value.name])
    if isinstance(value, ast.Function):
        if value.name.lower() not in _STRING_FUNCTIONS or len(value.arguments) != 1:
            raise ValueError(f"unknown function {value.name!r} in the filter: use CASEI(...) or ACCENTI(...)")
        name, kind = _operand(value.arguments[0], fields)
        if kind != "string":
            raise FilterTypeError(
                name, kind, value.arguments[0], f"{value.name.upper()} works on text; {name!r} is of type {kind}"
            )
        return name, "string"
    literal = kind_of_literal(value)
    if literal is None:
        raise ValueError(f"unsupported value in the filter: {_show(value)}")
    return _show(value), literal


def _show(value) -> str:
    if isinstance(value, ast.Attribute):
        return f"property {value.name}"
    if isinstance(value, (values.Geometry, values.Envelope)):
        return "a geometry"
    text = repr(value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else value)
    return text if len(text) < 80 else text[:77] + "..."
