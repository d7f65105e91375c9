"""CQL2 text and CQL2-JSON parsed into pygeofilter's AST, with the gaps of pygeofilter 0.4 filled.

pygeofilter 0.4 parses an older draft of CQL2. The standard forms it lacks are rewritten first:
- temporal operators are functions, T_AFTER(a, b), where it parses only the infix `a T_AFTER b`;
  INTERVAL may hold dates and open ends ('..'), where it takes two timestamps only;
- S_DWITHIN(property, geometry, distance, units) is known to neither of its parsers: each call is
  parsed here into a DistanceWithin node and stands in the text as a placeholder comparison meanwhile;
- NOT (condition): its grammar takes NOT before a single predicate only, where QGIS 3.32+ writes
  `(NOT ((a = 1)))`; the condition is parsed on its own and stands in as a placeholder too;
- CQL2-JSON writes BETWEEN as [property, low, high], where it expects [property, [low, high]].
"""

from __future__ import annotations

import json
import re

import shapely
from pygeofilter import ast, values
from pygeofilter.parsers.cql2_json import parse as parse_cql2_json
from pygeofilter.parsers.cql2_text import parse as parse_cql2_text
from pygeofilter.parsers.ecql import parse as parse_ecql
from shapely.geometry import mapping, shape

from sdi.server.limits import filter_problem

_T_FUNCTION = re.compile(r"\bT_[A-Z]+\s*\(", re.IGNORECASE)
_DWITHIN = re.compile(r"\bS_DWITHIN\s*\(", re.IGNORECASE)
_NOT = re.compile(r"\bNOT\s*\(", re.IGNORECASE)  # NOT LIKE / IN / BETWEEN are followed by a word instead
_INTERVAL = re.compile(r"\bINTERVAL\s*\(\s*'([^']*)'\s*,\s*'([^']*)'\s*\)", re.IGNORECASE)
_OPEN = ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z")  # '..' ends, as instants the grammar takes
_TOO_DEEP = "the filter is nested too deeply: use IN (...) for a list of values"
_PLACEHOLDER = "sdi:node:"  # a property name no schema has (a colon is not allowed in field names)


def parse(text: str, lang: str | None):
    """The AST of a filter in `cql2-json` or CQL2 text (any other lang); raises ValueError when malformed."""
    found: list[ast.Node] = []
    try:
        if lang == "cql2-json":
            tree = parse_cql2_json(json.dumps(_json(json.loads(text) if isinstance(text, str) else text, found)))
        else:
            tree = parse_cql2_text(standard_temporal(_text_dwithin(_text_not(text, found), found)))
    except ValueError:
        raise
    except RecursionError:
        raise ValueError(_TOO_DEEP) from None
    except Exception as exc:  # noqa: BLE001 - lark's errors carry the position; their first line says enough
        raise ValueError(str(exc).splitlines()[0]) from None
    # Checked before any recursive walk (here and in pygeoapi's reprojection): a chain of 1,500 ORs
    # ran out of Python's stack, a 500.
    too_big = filter_problem(tree)
    if too_big:
        raise ValueError(too_big)
    try:
        return _put_back(tree, found)
    except RecursionError:
        raise ValueError(_TOO_DEEP) from None


def standard_temporal(text: str) -> str:
    """CQL2 1.0 temporal functions and intervals rewritten into the forms pygeofilter 0.4 parses."""
    out, at = [], 0
    while found := _T_FUNCTION.search(text, at):
        split = _arguments(text, found.end())
        if split is None or len(split[0]) != 2:
            break  # malformed: the parser reports it
        (lhs, rhs), end = split
        name = found.group(0).rstrip("( \t").upper()
        out += [text[at : found.start()], f"({standard_temporal(lhs)}) {name} ({standard_temporal(rhs)})"]
        at = end
    text = "".join(out) + text[at:]

    def interval(m):
        ends = [_OPEN[i] if v == ".." else (v + "T00:00:00Z" if len(v) == 10 else v) for i, v in enumerate(m.groups())]
        return f"INTERVAL('{ends[0]}','{ends[1]}')"

    return _INTERVAL.sub(interval, text)


def _text_not(text: str, found: list) -> str:
    out, at = [], 0
    while match := _NOT.search(text, at):
        split = _arguments(text, match.end())
        if split is None:
            break  # unbalanced: the parser reports it
        args, end = split
        found.append(ast.Not(parse(",".join(args), "cql2-text")))
        out += [text[at : match.start()], f"{_PLACEHOLDER}{len(found) - 1} = 0"]
        at = end
    return "".join(out) + text[at:]


def _text_dwithin(text: str, found: list) -> str:
    out, at = [], 0
    while match := _DWITHIN.search(text, at):
        split = _arguments(text, match.end())
        if split is None or len(split[0]) not in (3, 4):
            raise ValueError("S_DWITHIN takes a property, a geometry, a distance and its units")
        args, end = split
        spatial = parse_cql2_text(f"S_INTERSECTS({args[0]}, {args[1]})")
        units = args[3].strip("'\" ") if len(args) == 4 else "meters"
        found.append(ast.DistanceWithin(spatial.lhs, spatial.rhs, _number(args[2]), units))
        out += [text[at : match.start()], f"{_PLACEHOLDER}{len(found) - 1} = 0"]
        at = end
    return "".join(out) + text[at:]


def _json(node, found: list):
    if isinstance(node, dict):
        node = {k: _json(v, found) for k, v in node.items()}
        args = node.get("args")
        op = str(node.get("op", "")).lower()
        if op == "between" and isinstance(args, list) and len(args) == 3:
            node["args"] = [args[0], [args[1], args[2]]]
        elif op == "s_dwithin":
            if not isinstance(args, list) or len(args) not in (3, 4):
                raise ValueError("s_dwithin takes a property, a geometry, a distance and its units")
            spatial = parse_cql2_json(json.dumps({"op": "s_intersects", "args": args[:2]}))
            units = args[3] if len(args) == 4 else "meters"
            found.append(ast.DistanceWithin(spatial.lhs, spatial.rhs, _number(args[2]), str(units)))
            return {"op": "=", "args": [{"property": f"{_PLACEHOLDER}{len(found) - 1}"}, 0]}
        return node
    if isinstance(node, list):
        return [_json(v, found) for v in node]
    return node


def _put_back(node, found: list):
    if isinstance(node, ast.Equal) and isinstance(node.lhs, ast.Attribute) and node.lhs.name.startswith(_PLACEHOLDER):
        return found[int(node.lhs.name[len(_PLACEHOLDER) :])]
    for name in ("lhs", "rhs", "sub_node"):
        if isinstance(getattr(node, name, None), ast.Node):
            setattr(node, name, _put_back(getattr(node, name), found))
    return node


def _number(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"S_DWITHIN needs a number as its distance, not {value!r}") from None


def _arguments(text: str, start: int) -> tuple[list[str], int] | None:
    """The top-level comma-separated arguments of a call whose '(' ends just before start."""
    args: list[str] = []
    depth, quoted, begin = 1, False, start
    for i in range(start, len(text)):
        ch = text[i]
        if ch == "'":
            quoted = not quoted  # a doubled '' inside a string toggles twice, which is right
        elif quoted:
            continue
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return args + [text[begin:i].strip()], i + 1
        elif ch == "," and depth == 1:
            args.append(text[begin:i].strip())
            begin = i + 1
    return None


def parse_request_filter(text: str, lang: str | None):
    """The filter of a request, as pygeoapi hands it to the provider (sdi.server.pygeoapi_compat).

    CQL2-JSON for filter-lang cql2-json (or a text that is a JSON object), else CQL2 text; with no
    filter-lang or pygeoapi's older `cql-text`, ECQL when the text is not CQL2. BBOX(...) becomes a
    densified polygon, so that reprojecting it to the storage CRS keeps its curved edges.
    """
    if lang in ("cql2-json", "cql-json") or (lang is None and text.lstrip().startswith("{")):
        return _bbox_as_polygon(parse(text, "cql2-json"))
    try:
        return _bbox_as_polygon(parse(text, "cql2-text"))
    except ValueError:
        if lang not in (None, "cql-text"):
            raise
        try:
            tree = parse_ecql(text)
        except Exception:  # noqa: BLE001 - lark's parse errors share no base class pygeofilter exports
            raise ValueError("neither CQL2 text nor ECQL") from None
        too_big = filter_problem(tree)
        if too_big:
            raise ValueError(too_big) from None
        return _bbox_as_polygon(tree)


def _bbox_as_polygon(node):
    """BBOX(x1, y1, x2, y2) arrives as a function; as a polygon it is reprojected like any geometry."""
    if isinstance(node, ast.Function) and node.name.lower() == "bbox" and len(node.arguments) == 4:
        try:
            x1, y1, x2, y2 = (float(v) for v in node.arguments)
        except (TypeError, ValueError):
            raise ValueError("BBOX takes four numbers") from None
        steps = 20  # points per edge: its image in another CRS keeps the curve of each edge
        edges = [(x1, y1, x2, y1), (x2, y1, x2, y2), (x2, y2, x1, y2), (x1, y2, x1, y1)]
        ring = [
            [ax + (bx - ax) * i / steps, ay + (by - ay) * i / steps] for ax, ay, bx, by in edges for i in range(steps)
        ] + [[x1, y1]]
        return values.Geometry({"type": "Polygon", "coordinates": [ring]})
    if isinstance(node, values.Geometry) and node.geometry.get("type") in _DENSIFIED:
        return _densified(node)
    for name in ("lhs", "rhs", "sub_node"):
        if isinstance(getattr(node, name, None), (ast.Node, ast.Function, values.Geometry)):
            setattr(node, name, _bbox_as_polygon(getattr(node, name)))
    return node


_DENSIFIED = ("LineString", "MultiLineString", "Polygon", "MultiPolygon")


def _densified(node: values.Geometry) -> values.Geometry:
    """A filter's line or polygon with its long edges split (20 steps across its extent): pygeoapi moves a
    geometry to the storage CRS vertex by vertex, and a straight edge in CRS84 is a curve in EPSG:2180."""
    try:
        geom = shape(node.geometry)
        geom.bounds  # noqa: B018 - GEOS checks the rings here
    except (ValueError, TypeError, AttributeError, KeyError, IndexError, shapely.errors.ShapelyError):
        raise ValueError("a geometry of the filter is malformed") from None
    west, south, east, north = geom.bounds if not geom.is_empty else (0, 0, 0, 0)
    step = max(east - west, north - south) / 20
    if not step > 0:
        return node
    made = json.loads(json.dumps(mapping(shapely.segmentize(geom, step))))  # tuples to lists
    return values.Geometry({**made, **({"crs": node.geometry["crs"]} if "crs" in node.geometry else {})})
