"""Items requests checked and made fit for pygeoapi 0.21, in front of it (WSGI middleware).

Every query parameter of the features paths is checked here first (sdi.server.params): an unknown name
or a value of the wrong type is a 400 with its reason, and a filter that does not parse or whose literals
do not fit the queryables' types is a 400 naming the property, its type and the literal. pygeoapi then
parses the filter itself, with sdi's parser put in its place (sdi.server.pygeoapi_compat), and hands the
tree to the provider as its `filterq` argument.

Two things pygeoapi cannot take are moved out of its way, and put back in its response:
- `filter-lang=cql2-text|cql2-json`: pygeoapi 0.21 refuses any filter-lang but its own two, so the
  parameter is renamed on the way in (pygeoapi keeps it in its paging links) and back in the response;
- `after=FID`, sdi's keyset paging: renamed the same way, its value handed to the provider in the
  environment under AFTER_KEY (it is no filter of the client's, and pygeoapi has no argument for it).

An empty sort key, or a POST without a Content-Type, which pygeoapi answers with a 500, is a 400 here.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from urllib.parse import urlencode

from sdi.server.params import ParameterProblem, check_filter, check_items, query
from sdi.server.pygeoapi_compat import FILTER_LANG, exception

logger = logging.getLogger(__name__)

AFTER_KEY = "sdi.after"
RENAMED_KEY = "sdi.renamed"
HIDDEN = "x-sdi-"  # prefix that hides a parameter from pygeoapi
_RENAMED = {"filter-lang": FILTER_LANG, "after": HIDDEN + "after"}


class CqlRequests:
    """WSGI middleware in front of pygeoapi's Flask app: the features paths' parameters checked and renamed."""

    def __init__(self, app, config: dict, fields_of: Callable[[str], dict]):
        self.app, self.config, self.fields_of = app, config, fields_of

    def __call__(self, environ, start_response):
        parts = environ.get("PATH_INFO", "").strip("/").split("/")
        method = environ.get("REQUEST_METHOD")
        if (
            len(parts) in (3, 4)
            and parts[0] == "collections"
            and parts[2] == "items"
            and method in ("GET", "POST")
            and self._is_features(parts[1])
        ):
            try:
                self._check(environ, parts, method)
            except ParameterProblem as exc:
                body = exception(400, "InvalidParameterValue", str(exc), **exc.extra)
                start_response(
                    "400 Bad Request", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
                )
                return [body]
        return self.app(environ, start_response)

    def _is_features(self, theme: str) -> bool:
        # config as sdi.server.access left it: a hidden theme is unknown here too, and gets pygeoapi's 404
        collection = self.config.get("resources", {}).get(theme, {})
        return any(p.get("type") == "feature" for p in collection.get("providers", []))

    def _check(self, environ, parts: list[str], method: str) -> None:
        theme, params = parts[1], query(environ)
        collection, fields = self.config["resources"][theme], self.fields_of(theme)
        check_items(params, collection, fields, single=len(parts) == 4)
        if len(parts) == 4:
            return
        if method == "POST":
            _check_body(environ, fields)
            return
        for key, value in params:
            if key == "sortby" and any(s.strip("+- ") == "" for s in value.split(",")):
                # pygeoapi 0.21 fails with a 500 on an empty sort key
                raise ParameterProblem("sortby needs property names, e.g. sortby=name or sortby=-width_m")
        found = dict(params)
        if "after" in found:
            if "sortby" in found or "bbox" in found:
                raise ParameterProblem(
                    "after pages in fid order, so it cannot be combined with sortby or bbox: use offset"
                )
            environ[AFTER_KEY] = int(found["after"]) if found["after"].isdigit() else _bad_after()
        if any(k in _RENAMED for k, _ in params):
            environ["QUERY_STRING"] = urlencode([(_RENAMED.get(k, k), v) for k, v in params])
            environ[RENAMED_KEY] = True


def _bad_after() -> int:
    raise ParameterProblem("after must be a feature id, a whole number")


def _check_body(environ, fields: dict) -> None:
    """A POSTed CQL2-JSON filter: parsed and type-checked here, left in place for pygeoapi to parse."""
    kind = environ.get("CONTENT_TYPE", "")
    if not kind:
        # pygeoapi 0.21 returns nothing at all for it, which Flask turns into a 500
        raise ParameterProblem("a POST to items needs a CQL2-JSON body and Content-Type: application/query-cql-json")
    if "json" not in kind or "geo+json" in kind:
        return  # not a filter (pygeoapi refuses to create features: the API is read-only)
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))
    if body.strip():
        check_filter(body.decode("utf-8", "replace"), "cql2-json", fields)


def restore_names(response, environ) -> None:
    """Give the renamed parameters their names back in the links of a response."""
    # pygeoapi sets the Content-Type after the hooks run, so the flag, not the media type, decides.
    if environ.get(RENAMED_KEY) and not response.direct_passthrough:
        data = response.get_data()
        for theirs, ours in _RENAMED.items():
            data = data.replace(ours.encode(), theirs.encode())
        response.set_data(data)
