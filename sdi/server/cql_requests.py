"""Items requests that pygeoapi 0.21 cannot take itself, made to work in front of it (WSGI middleware).

Every CQL2 filter, GET `filter=` in CQL2 text (`filter-lang=cql2-text`, or no filter-lang and text that
parses as CQL2) or CQL2-JSON (`filter-lang=cql2-json`, or a POSTed body), is parsed here by
`sdi.server.cql_parse`, which takes the standard forms pygeoapi's pygeofilter 0.4 lacks. Its geometries are moved
to the storage CRS as pygeoapi would, and the parsed filter is handed to sdi's provider through the request
environment. pygeoapi itself only knows ECQL on GET: the GET filter parameters are renamed on the way in,
so pygeoapi ignores them but keeps them in its paging links, and renamed back in the response; a POSTed
body is emptied once parsed.

An empty sort key, or a POST without a Content-Type, which pygeoapi answers with a 500, is a 400 here.
`after=FID` (sdi's keyset next links) becomes the filter `fid > FID`.
"""

from __future__ import annotations

import io
import json
import logging
from urllib.parse import parse_qsl, urlencode

from pygeoapi.util import modify_pygeofilter
from pygeofilter import ast, values

from sdi.server.cql_parse import parse
from sdi.server.limits import filter_problem
from sdi.core.settings import CRS84, STORAGE_CRS

logger = logging.getLogger(__name__)

ENVIRON_KEY = "sdi.filter"
AFTER_KEY = "sdi.after"
HIDDEN = "x-sdi-"  # prefix that hides the filter parameters from pygeoapi


class CqlRequests:
    """WSGI middleware in front of pygeoapi's Flask app for the CQL2 forms it lacks."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO", "").endswith("/items"):
            method, problem = environ.get("REQUEST_METHOD"), None
            if method == "POST":
                problem = self._take_body(environ)
            elif method == "GET":
                problem = _bad_sortby(environ) or self._take_filter(environ) or _take_after(environ)
            if problem:
                body = json.dumps({"code": "InvalidParameterValue", "description": problem}).encode()
                start_response("400 Bad Request", [("Content-Type", "application/json"),
                                                   ("Content-Length", str(len(body)))])
                return [body]
        return self.app(environ, start_response)

    @staticmethod
    def _take_body(environ) -> str | None:
        """Parse a POSTed CQL2-JSON filter into the environment; a message when it is malformed."""
        kind = environ.get("CONTENT_TYPE", "")
        if not kind:
            # pygeoapi 0.21 returns nothing at all for it, which Flask turns into a 500
            return "a POST to items needs a CQL2-JSON body and Content-Type: application/query-cql-json"
        if "json" not in kind or "geo+json" in kind:
            return None  # not a filter (pygeoapi refuses to create features: the API is read-only)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        if not body.strip():
            environ["wsgi.input"] = io.BytesIO(body)
            return None
        params = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
        problem = _parse_into(environ, body.decode("utf-8", "replace"), "cql2-json", params.get("filter-crs"))
        environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(b""), "0"
        return problem

    @staticmethod
    def _take_filter(environ) -> str | None:
        """Parse a CQL2 filter of a GET into the environment; a message when it is malformed."""
        params = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        found = dict(params)
        text, lang = found.get("filter"), found.get("filter-lang")
        if text is None or lang in ("cql-text", "cql-json"):
            return None  # no filter, or ECQL for pygeoapi itself
        if lang is None:
            try:
                parse(text, None)
            except ValueError:
                return None  # not CQL2 text: perhaps ECQL, which pygeoapi parses itself
        problem = _parse_into(environ, text, lang or "cql2-text", found.get("filter-crs"))
        if problem is None:
            renamed = [(HIDDEN + k if k in ("filter", "filter-lang", "filter-crs") else k, v) for k, v in params]
            environ["QUERY_STRING"] = urlencode(renamed)
        return problem


def _parse_into(environ, text: str, lang: str, filter_crs: str | None) -> str | None:
    """Parse a filter, move its geometries to the storage CRS and put it in the environment."""
    try:
        tree = parse(text, lang)
    except ValueError as exc:
        return f"cannot parse the filter as {lang}: {exc}"
    too_big = filter_problem(tree)
    if too_big:
        return too_big
    tree = _bbox_as_polygon(tree)
    try:
        tree = modify_pygeofilter(tree, filter_crs_uri=filter_crs or CRS84, storage_crs_uri=STORAGE_CRS)
    except Exception:
        return f"unknown filter-crs {filter_crs!r}"
    environ[ENVIRON_KEY] = tree
    return None


def _take_after(environ) -> str | None:
    """`after=FID`, the keyset of sdi's own next links: the rows after that fid, found by the primary key.

    An OFFSET of 50,000 reads and skips 50,000 rows; `fid > last` starts right where the last page ended.
    """
    params = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    found = dict(params)
    if "after" not in found:
        return None
    after = found["after"]
    if not (after.isdigit() and int(after) < 2 ** 63):
        return "after must be a feature id, a whole number"
    if "sortby" in found or "bbox" in found:
        return "after pages in fid order, so it cannot be combined with sortby or bbox: use offset"
    keyset = ast.GreaterThan(ast.Attribute("fid"), int(after))
    tree = environ.get(ENVIRON_KEY)
    environ[ENVIRON_KEY] = keyset if tree is None else ast.And(tree, keyset)
    environ[AFTER_KEY] = int(after)
    environ["QUERY_STRING"] = urlencode([(HIDDEN + k if k == "after" else k, v) for k, v in params])
    return None


def _bad_sortby(environ) -> str | None:
    """pygeoapi 0.21 fails with a 500 on an empty sort key (`sortby=` or `sortby=a,,b`)."""
    for key, value in parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True):
        if key == "sortby" and any(s.strip("+- ") == "" for s in value.split(",")):
            return "sortby needs property names, e.g. sortby=name or sortby=-width_m"
    return None


def _bbox_as_polygon(node):
    """BBOX(x1, y1, x2, y2) arrives as a function; as a polygon it is reprojected like any geometry."""
    if isinstance(node, ast.Function) and node.name.lower() == "bbox" and len(node.arguments) == 4:
        x1, y1, x2, y2 = (float(v) for v in node.arguments)
        ring = [[x1, y1], [x2, y1], [x2, y2], [x1, y2], [x1, y1]]
        return values.Geometry({"type": "Polygon", "coordinates": [ring]})
    for name in ("lhs", "rhs", "sub_node"):
        if hasattr(node, name):
            setattr(node, name, _bbox_as_polygon(getattr(node, name)))
    return node


def restore_names(response, environ) -> None:
    """Give the renamed filter parameters their names back in the links of a response."""
    # Only items responses (GeoJSON, JSON-LD or HTML) of a CQL2 GET carry the flag; pygeoapi sets their
    # Content-Type after the hooks run, so the flag, not the media type, decides.
    if environ.get(ENVIRON_KEY) is not None and not response.direct_passthrough:
        response.set_data(response.get_data().replace(HIDDEN.encode(), b""))
