"""The query parameters of the features paths, checked once at the edge, before pygeoapi sees them.

OGC API Features Part 1 asks for a 400 on a parameter the server does not know (/req/core/query-param-unknown)
and on a value it cannot use (/req/core/query-param-invalid); pygeoapi 0.21 ignored unknown names and let
`datetime=notadate`, `filter-lang=foo`, `floors=abc` or a latitude of 95 through to a 200 or a 500.
Every name accepted here is declared in the OpenAPI document (sdi.server.openapi).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Callable
from urllib.parse import parse_qsl

from sdi.server import bbox as bboxes
from sdi.server.cql_parse import parse_request_filter
from sdi.server.cql_types import FilterTypeError, check, kind_of_field
from sdi.server.limits import filter_problem

logger = logging.getLogger(__name__)

#: Accepted on every path: the output format, the language, and a token (sdi.server.access).
COMMON = frozenset({"f", "lang", "access_token"})
ITEM = COMMON | {"crs"}
ITEMS = ITEM | {
    "bbox",
    "bbox-crs",
    "datetime",
    "limit",
    "offset",
    "properties",
    "skipGeometry",
    "sortby",
    "filter",
    "filter-lang",
    "filter-crs",
    "resulttype",
    "after",
}
FILTER_LANGS = ("cql2-text", "cql2-json", "cql-text", "cql-json")  # the last two: pygeoapi's older names
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


class ParameterProblem(ValueError):
    """A 400: what is wrong, and (for a filter's types) the extra members of the exception document."""

    def __init__(self, message: str, **extra):
        super().__init__(message)
        self.extra = extra


def check_items(params: list[tuple[str, str]], collection: dict, fields: dict, single: bool = False) -> None:
    """Raise ParameterProblem for the first parameter of an items (or single item) request that is wrong."""
    # A single feature takes the items path's names too (ignored but for f, lang and crs): clients and
    # pages carry e.g. limit over from the list they came from; any other name is still refused.
    allowed = ITEMS
    found: dict[str, str] = {}
    for name, value in params:
        if name not in allowed and (single or name not in fields):
            known = ", ".join(sorted(ITEM if single else allowed | set(fields)))
            raise ParameterProblem(f"unknown query parameter {name!r}; this path takes: {known}")
        if name in found and name not in ("access_token",):
            raise ParameterProblem(f"the parameter {name!r} is given twice: give it once")
        found[name] = value
    supported = [
        CRS84 + "h",
        *next((p.get("crs", []) for p in collection.get("providers", []) if p.get("type") == "feature"), [CRS84]),
    ]
    for name in ("crs", "bbox-crs", "filter-crs"):
        if name in found and found[name] not in supported:
            raise ParameterProblem(
                f"unknown {name} {found[name]!r}: it is not supported here; use one of {', '.join(supported)}"
            )
    if single:
        return
    _whole("limit", found, 1)
    _whole("offset", found, 0)
    if "bbox" in found:
        _bbox(found["bbox"], found.get("bbox-crs", CRS84))
    elif "bbox-crs" in found:
        raise ParameterProblem("bbox-crs is given without a bbox")
    if "datetime" in found:
        _datetime(found["datetime"])
    if found.get("filter-lang", "cql2-text") not in FILTER_LANGS:
        raise ParameterProblem(f"unknown filter-lang {found['filter-lang']!r}: use cql2-text or cql2-json")
    if found.get("skipGeometry", "false").lower() not in ("true", "false"):
        raise ParameterProblem("skipGeometry is true or false")
    if found.get("resulttype", "results") not in ("results", "hits"):
        raise ParameterProblem("resulttype is results or hits")
    for name, value in found.items():
        if name in fields and name not in ITEMS:
            _property_value(name, value, fields[name])
    if "filter" in found:
        check_filter(found["filter"], found.get("filter-lang"), fields)


def check_filter(text: str, lang: str | None, fields: dict):
    """The parsed filter, if it parses, is small enough, and fits the queryables' types; else ParameterProblem."""
    shown = "cql2-json" if lang in ("cql2-json", "cql-json") or text.lstrip().startswith("{") else "cql2-text"
    try:
        tree = parse_request_filter(text, lang)
    except ValueError as exc:
        raise ParameterProblem(f"cannot parse the filter as {shown}: {exc}") from None
    problem = filter_problem(tree)
    if problem:
        raise ParameterProblem(problem)
    try:
        check(tree, fields)
    except FilterTypeError as exc:
        raise ParameterProblem(str(exc), property=exc.prop, expected=exc.expected, literal=exc.literal) from None
    except ValueError as exc:
        raise ParameterProblem(str(exc)) from None
    return tree


def _whole(name: str, found: dict, least: int) -> None:
    value = found.get(name)
    if value is not None and not (value.isdigit() and least <= int(value) < 2**63):
        raise ParameterProblem(f"{name} must be a whole number of at least {least}, not {value!r}")


def _bbox(value: str, uri: str) -> None:
    try:
        numbers = [float(v) for v in value.split(",")]
        if not all(math.isfinite(v) for v in numbers):
            raise ValueError("bbox values must be finite numbers")
        bboxes.corners(numbers, uri)
    except ValueError as exc:
        message = str(exc) if "bbox" in str(exc) else f"bbox must be numbers separated by commas ({exc})"
        raise ParameterProblem(message) from None


def _instant(text: str) -> dt.datetime | None:
    if text in ("..", ""):
        return None
    try:
        if len(text) == 10:
            return dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), dt.UTC)
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ParameterProblem(
            f"datetime {text!r} is not a date (2024-05-01) or an RFC 3339 date-time (2024-05-01T12:00:00Z)"
        ) from None
    if "T" not in text.upper():
        raise ParameterProblem(f"datetime {text!r}: a date-time needs a T between date and time")
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _datetime(value: str) -> None:
    """An instant, or an interval start/end whose open ends are '..' or empty (Part 1, /req/core/fc-time)."""
    parts = value.split("/")
    if len(parts) > 2 or value in ("", "/") or (len(parts) == 1 and value == ".."):
        raise ParameterProblem(f"datetime {value!r}: give an instant or an interval start/end ('..' for open)")
    ends = [_instant(p) for p in parts]
    if len(ends) == 2 and ends[0] and ends[1] and ends[0] > ends[1]:
        raise ParameterProblem(f"datetime {value!r}: the interval ends before it starts")


_PARSERS: dict[str, Callable[[str], object]] = {
    "number": float,
    "date": dt.date.fromisoformat,
    "timestamp": dt.datetime.fromisoformat,
    "boolean": lambda v: {"true": True, "false": False}[v.lower()],
}


def _property_value(name: str, value: str, field: dict) -> None:
    """A queryable as a query parameter (`floors=3`) takes a value of its type (Part 1, /req/core/fc-filters)."""
    kind = kind_of_field(field)
    if isinstance(field.get("values"), list) and value not in field["values"]:
        raise ParameterProblem(
            f"{name} takes one of its code list's values: {', '.join(field['values'][:20])}",
            property=name,
            expected="one of " + ", ".join(field["values"][:20]),
            literal=value,
        )
    if field.get("type") == "integer":
        ok = value.lstrip("-").isdigit()
    else:
        try:
            _PARSERS.get(kind, str)(value)
            ok = kind != "number" or math.isfinite(float(value))
        except (ValueError, KeyError):
            ok = False
    if not ok:
        expected = "integer" if field.get("type") == "integer" else kind
        raise ParameterProblem(
            f"{name} is of type {expected}, and {value!r} is not one", property=name, expected=expected, literal=value
        )


def query(environ) -> list[tuple[str, str]]:
    """The query parameters as the middleware and pygeoapi read them."""
    return parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
