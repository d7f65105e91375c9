"""CQL2 requests that pygeoapi 0.21 cannot take itself, made to work in front of it (WSGI middleware).

- GET `filter=` in CQL2 text (`filter-lang=cql2-text`, or no filter-lang and text that parses as CQL2),
  and GET `filter-lang=cql2-json`: pygeoapi only knows ECQL. The filter is parsed here, its geometries
  moved to the storage CRS as pygeoapi would, and the parsed filter handed to sdi's provider through the
  request environment. The filter parameters are renamed on the way in, so pygeoapi ignores them but
  keeps them in its paging links, and renamed back in the response.
- POST CQL2-JSON: CQL2 1.0 writes BETWEEN as [property, low, high]; pygeofilter 0.4 expects the draft
  form [property, [low, high]]. Both are accepted, the standard one rewritten.
"""

from __future__ import annotations

import io
import json
import logging
from urllib.parse import parse_qsl, urlencode

from pygeoapi.util import modify_pygeofilter
from pygeofilter import ast, values
from pygeofilter.parsers.cql2_json import parse as parse_cql2_json
from pygeofilter.parsers.cql2_text import parse as parse_cql2_text

from sdi.settings import CRS84, STORAGE_CRS

logger = logging.getLogger(__name__)

ENVIRON_KEY = "sdi.filter"
HIDDEN = "x-sdi-"  # prefix that hides the filter parameters from pygeoapi


def normalise(node):
    """The CQL2-JSON tree with every standard BETWEEN rewritten for pygeofilter 0.4."""
    if isinstance(node, dict):
        node = {k: normalise(v) for k, v in node.items()}
        args = node.get("args")
        if node.get("op") == "between" and isinstance(args, list) and len(args) == 3:
            node["args"] = [args[0], [args[1], args[2]]]
        return node
    if isinstance(node, list):
        return [normalise(v) for v in node]
    return node


class CqlRequests:
    """WSGI middleware in front of pygeoapi's Flask app for the CQL2 forms it lacks."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO", "").endswith("/items"):
            method = environ.get("REQUEST_METHOD")
            if method == "POST":
                self._normalise_body(environ)
            elif method == "GET":
                problem = self._take_filter(environ)
                if problem:
                    body = json.dumps({"code": "InvalidParameterValue", "description": problem}).encode()
                    start_response("400 Bad Request", [("Content-Type", "application/json"),
                                                       ("Content-Length", str(len(body)))])
                    return [body]
        return self.app(environ, start_response)

    @staticmethod
    def _normalise_body(environ) -> None:
        kind = environ.get("CONTENT_TYPE", "")
        if "json" not in kind or "geo+json" in kind:
            return
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        try:
            body = json.dumps(normalise(json.loads(body))).encode()
        except ValueError:
            pass  # not JSON: pygeoapi answers it with its own 400
        environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))

    @staticmethod
    def _take_filter(environ) -> str | None:
        """Parse a CQL2 filter of a GET into the environment; a message when it is malformed."""
        params = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        found = dict(params)
        text, lang = found.get("filter"), found.get("filter-lang")
        if text is None or lang in ("cql-text", "cql-json"):
            return None  # no filter, or ECQL for pygeoapi itself
        try:
            tree = parse_cql2_json(json.dumps(normalise(json.loads(text)))) if lang == "cql2-json" \
                else parse_cql2_text(text)
        except Exception as exc:
            if lang is None:
                return None  # not CQL2 text: perhaps ECQL, which pygeoapi parses itself
            return f"cannot parse the filter as {lang}: {str(exc).splitlines()[0]}"
        tree = _bbox_as_polygon(tree)
        try:
            tree = modify_pygeofilter(tree, filter_crs_uri=found.get("filter-crs", CRS84),
                                      storage_crs_uri=STORAGE_CRS)
        except Exception:
            return f"unknown filter-crs {found.get('filter-crs')!r}"
        environ[ENVIRON_KEY] = tree
        renamed = [(HIDDEN + k if k in ("filter", "filter-lang", "filter-crs") else k, v) for k, v in params]
        environ["QUERY_STRING"] = urlencode(renamed)
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
