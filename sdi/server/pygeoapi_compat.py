"""Every workaround of pygeoapi 0.21's behaviour, in one place, each naming what it works around.

An upgrade of pygeoapi is a review of this file: the import fails on a version it was not tested with.
What is replaced, by name, in pygeoapi's modules (install()):

1. `pygeoapi.util.transform_bbox`: it reprojects a bbox by its two corners (a world box collapses to zero
   width in EPSG:2180) and builds a pyproj Transformer per call (about 28 ms). It becomes sdi.server.bbox's
   densified region, handed to the provider as the `bbox` argument (a list carrying the region).
2. `pygeoapi.api.itemtypes.parse_ecql_text` / `parse_cql2_json`: pygeoapi parses `filter` as ECQL only
   and pygeofilter 0.4 knows an older CQL2 draft (geopython/pygeoapi#1340 and #1811 track CQL2 text).
   sdi.server.cql_parse parses instead, and pygeoapi passes the tree to the provider as `filterq`.
   pygeoapi still refuses `filter-lang=cql2-text` by a literal list, so sdi.server.cql_requests renames
   that one parameter on the way in and back in the response (restore_names).
3. `pygeoapi.api.itemtypes.CONFORMANCE_CLASSES_FEATURES`: it claims Part 4 (create, replace, delete),
   which a read-only API does not do, and none of Part 3 / CQL2, which sdi does; /conformance is then
   cut to CLAIMED, the classes whose abstract tests sdi runs, with OGC API Processes' (PROCESSES) where the
   analysis service answers /processes (pygeoapi links /processes and /jobs from its landing page anyway).
4. `pygeoapi.util.to_json` and `pygeoapi.util.Environment`: output escaping and CSP nonces of the HTML
   pages (sdi.server.html).

And, around the Flask app (answers(), finish() and the WSGI wrapper JsonAnswers):

5. pygeoapi answers a malformed coverage bbox, an unknown tile matrix set and Werkzeug's own errors with
   a 500 or an HTML page; every 4xx/5xx here is a JSON exception document (OGC API Common's exception
   schema: type, title, status, detail; `code` and `description` as pygeoapi writes them) unless HTML
   was asked for.
6. pygeoapi answers features as `application/json` though its links promise `application/geo+json`.
7. pygeoapi adds a `next` link to every full page, also the last one, and its next links drop `f`.
8. pygeoapi gives a coverage collection no `itemType`, so GDAL's OAPIF driver lists it as a vector layer.

Elsewhere, because they are the job of those modules: sdi.server.tiles skips MVTPostgreSQLProvider's
SQLAlchemy __init__; sdi.server.access swaps CONFIG["resources"] per request (pygeoapi has no per-request
resource filter; safe with gunicorn's sync workers only, which sdi.server.serving runs).
"""

from __future__ import annotations

import json
import logging
import math
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson
import pygeoapi
from pyproj.exceptions import CRSError

if not pygeoapi.__version__.startswith("0.21."):
    # every name replaced below, and the templates of sdi.server.html, are those of pygeoapi 0.21
    raise ImportError(
        f"sdi.server is written and tested for pygeoapi 0.21, not {pygeoapi.__version__}: review"
        " sdi/server/pygeoapi_compat.py and sdi/server/templates, or install 'pygeoapi==0.21.*'"
    )

from pygeoapi import util as pygeoapi_util
from pygeoapi.api import itemtypes

from sdi.server import html
from sdi.server.bbox import Region

logger = logging.getLogger(__name__)

_NOT_SUPPORTED = {"http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete"}
#: The conformance classes of Part 3 and CQL2 that sdi claims: each has its tests in tests/test_conformance_*.
#: Not claimed: temporal functions (only on date instants) and accent-insensitivity (only Polish letters).
FILTERING = [
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    *(
        f"http://www.opengis.net/spec/cql2/1.0/conf/{c}"
        for c in (
            "basic-cql2",
            "cql2-text",
            "cql2-json",
            "advanced-comparison-operators",
            "case-insensitive-comparison",
            "basic-spatial-functions",
            "spatial-functions",
            # the draft name of basic-spatial-functions: QGIS before 3.44 sends spatial filters to
            # the server only when it sees this one
            "basic-spatial-operators",
        )
    ),
]
_F = "http://www.opengis.net/spec/ogcapi-features-{}/1.0/conf/{}"
_T = "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/{}"
#: Everything /conformance may declare: each class has its abstract tests in tests/test_conformance_*.py
#: (pygeoapi also lists OGC API Common and Features Part 5 classes, which have no tests here: left out).
CLAIMED = frozenset(
    [
        *(_F.format(1, c) for c in ("core", "geojson", "html", "oas30")),
        _F.format(2, "crs"),
        *FILTERING,
        *(_T.format(c) for c in ("core", "tileset", "tilesets-list", "geodata-tilesets", "mvt", "oas30")),
    ]
)
#: OGC API Processes 1.0, declared when the analysis service answers /processes and /jobs at the root (the
#: configuration's sdi.processes); its documents are checked in tests/test_analysis_processes.py. The same list
#: as sdi.analysis.documents.CONFORMANCE (/analysis/conformance): the layers keep the two packages apart.
PROCESSES = frozenset(
    f"http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/{c}"
    for c in ("core", "ogc-process-description", "json", "job-list")
)
#: The renamed filter-lang, which pygeoapi ignores (workaround 2).
FILTER_LANG = "x-sdi-filter-lang"


def _transform_bbox(bbox: list, from_crs: str, to_crs: str) -> Region:
    """Workaround 1: the bbox as the region of the storage CRS it covers (to_crs is always EPSG:2180)."""
    try:
        return Region.of([float(v) for v in bbox], from_crs)
    except ValueError as exc:
        raise CRSError(str(exc)) from None  # pygeoapi answers a CRSError with a 400


def _parse_filter_text(text: str):
    """Workaround 2: GET `filter=`, in the language the request names (CQL2 text unless it says JSON)."""
    from flask import request

    from sdi.server.cql_parse import parse_request_filter

    return parse_request_filter(text, request.args.get(FILTER_LANG) or request.args.get("filter-lang"))


def _parse_filter_json(text: str):
    """Workaround 2: a POSTed CQL2-JSON body."""
    from sdi.server.cql_parse import parse_request_filter

    return parse_request_filter(text, "cql2-json")


def install() -> None:
    """Put the replacements where pygeoapi looks them up (once per worker, when sdi.server.wsgi loads)."""
    pygeoapi_util.transform_bbox = _transform_bbox
    itemtypes.transform_bbox = _transform_bbox
    itemtypes.parse_ecql_text = _parse_filter_text
    itemtypes.parse_cql2_json = _parse_filter_json
    if FILTERING[0] not in itemtypes.CONFORMANCE_CLASSES_FEATURES:
        itemtypes.CONFORMANCE_CLASSES_FEATURES[:] = [
            c for c in itemtypes.CONFORMANCE_CLASSES_FEATURES if c not in _NOT_SUPPORTED
        ] + FILTERING
    html.install()


def exception(status: int, code: str, detail: str, **extra) -> bytes:
    """An exception document: OGC API Common's members, with pygeoapi's `code` and `description` kept."""
    from http import HTTPStatus

    title = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    return json.dumps(
        {"type": code, "title": title, "status": status, "detail": detail, "code": code, "description": detail, **extra}
    ).encode()


def wants_html(environ) -> bool:
    """Whether the client asked for HTML: f=html, or no f and a browser's Accept."""
    f = dict(parse_qsl(environ.get("QUERY_STRING", ""))).get("f")
    if f is not None:
        return f == "html"
    accept = environ.get("HTTP_ACCEPT", "")
    return "text/html" in accept and "json" not in accept.split("text/html")[0]


def coverage_bbox_problem(args) -> str | None:
    """Workaround 5: pygeoapi 0.21 answers a malformed coverage bbox with a 500."""
    from pygeoapi.api import validate_bbox

    try:
        values = validate_bbox(args["bbox"])
        if not all(math.isfinite(v) for v in values):
            raise ValueError("bbox must be finite numbers")
    except ValueError as exc:
        return str(exc)
    return None


def finish(response, request, config: dict) -> None:
    """Workarounds 6-8 on a Flask response of pygeoapi's, before it leaves."""
    parts = request.path.strip("/").split("/")
    if response.status_code != 200 or response.direct_passthrough or request.args.get("f") not in (None, "json"):
        return
    body = response.get_data()
    if not body.lstrip().startswith(b"{"):
        return  # HTML or a tile
    if parts == ["conformance"]:
        doc = json.loads(body)
        claimed = CLAIMED | (PROCESSES if config.get("sdi", {}).get("processes") else frozenset())
        doc["conformsTo"] = sorted({c for c in doc.get("conformsTo", []) if c in claimed} | (claimed & PROCESSES))  # 3
        response.set_data(json.dumps(doc))
    elif parts[:1] == ["collections"] and len(parts) in (3, 4) and parts[2] == "items":
        response.headers["Content-Type"] = "application/geo+json"  # 6
        if len(parts) == 3:
            # orjson: a page of 100 features is parsed and written again in 0.5 ms instead of 3 ms
            response.set_data(orjson.dumps(_paging(orjson.loads(body), request)))
    elif parts[:1] == ["collections"] and len(parts) <= 2:
        doc = json.loads(body)
        for c in doc.get("collections", [doc]):
            providers = config.get("resources", {}).get(c.get("id"), {}).get("providers", [])
            if any(p.get("type") == "coverage" for p in providers) and "itemType" not in c:
                c["itemType"] = "coverage"  # 8
        response.set_data(json.dumps(doc))


def _paging(doc: dict, request) -> dict:
    """Workaround 7: no next link past the last match, and f=json kept in next and prev links."""
    offset = int(request.args.get("offset") or 0) if (request.args.get("offset") or "0").isdigit() else 0
    returned, matched = doc.get("numberReturned", 0), doc.get("numberMatched")
    last = (matched is not None and offset + returned >= matched) or returned == 0
    links = []
    for link in doc.get("links", []):
        if link.get("rel") == "next" and last:
            continue
        if link.get("rel") in ("next", "prev"):
            link["href"] = _with_f_json(link["href"])
        links.append(link)
    doc["links"] = links
    return doc


def _with_f_json(href: str) -> str:
    scheme, netloc, path, query, fragment = urlsplit(href)
    params = parse_qsl(query, keep_blank_values=True)
    if not any(k == "f" for k, _ in params):
        params.append(("f", "json"))
    return urlunsplit((scheme, netloc, path, urlencode(params), fragment))


class JsonAnswers:
    """Workaround 5, as WSGI middleware around everything: errors in JSON, an unknown tile matrix set a 404."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        parts = environ.get("PATH_INFO", "").strip("/").split("/")
        if len(parts) >= 4 and parts[0] == "collections" and parts[2] == "tiles" and parts[3] != "WebMercatorQuad":
            return self._send(
                start_response,
                404,
                exception(404, "NotFound", f"no tile matrix set {parts[3]!r}: this API tiles in WebMercatorQuad"),
                environ,
            )
        seen: dict = {}

        def capture(status, headers, exc_info=None):
            seen["status"], seen["headers"] = status, headers
            return lambda data: None  # pygeoapi and Flask return their bodies, never write()

        try:
            body = b"".join(self.app(environ, capture))
        except Exception:  # a bug must still answer as the API does, never with a traceback
            logger.exception("unhandled error for %s", environ.get("PATH_INFO"))
            return self._send(
                start_response, 500, exception(500, "ServerError", "internal error: see the log"), environ
            )
        status = int(seen["status"].split()[0])
        kind = next((v for k, v in seen["headers"] if k.lower() == "content-type"), "")
        if status >= 400 and "json" not in kind and not wants_html(environ) and environ.get("REQUEST_METHOD") != "HEAD":
            detail = "not found" if status == 404 else seen["status"].split(" ", 1)[-1].lower()
            return self._send(start_response, status, exception(status, _code(status), detail), environ)
        if status >= 400 and "json" in kind:
            body = _complete(body, status)
            seen["headers"] = [(k, str(len(body)) if k.lower() == "content-length" else v) for k, v in seen["headers"]]
        start_response(seen["status"], seen["headers"])
        return [body]

    @staticmethod
    def _send(start_response, status: int, body: bytes, environ) -> list[bytes]:
        from http import HTTPStatus

        start_response(
            f"{status} {HTTPStatus(status).phrase}",
            [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
        )
        return [body]


def _code(status: int) -> str:
    return {
        400: "InvalidParameterValue",
        404: "NotFound",
        405: "MethodNotAllowed",
        406: "NotAcceptable",
        413: "RequestEntityTooLarge",
    }.get(status, "ServerError" if status >= 500 else "BadRequest")


def _complete(body: bytes, status: int) -> bytes:
    """pygeoapi's {code, description} completed with the members of OGC API Common's exception schema."""
    try:
        doc = json.loads(body)
    except ValueError:
        return body
    if not isinstance(doc, dict) or "detail" in doc:
        return body
    code = str(doc.get("code") or doc.get("type") or _code(status))
    return exception(
        status,
        code,
        str(doc.get("description", "")),
        **{k: v for k, v in doc.items() if k not in ("code", "description", "type")},
    )
