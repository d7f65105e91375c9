"""HTTP caching of a theme's data: ETag and Last-Modified from the loads that produced it, 304, Cache-Control.

A theme's items, tiles and coverage change only when a load (or a rollback) changes its current versions, so
the validator is derived from those: the stamp of the theme's current loads (sdi.server.current_loads),
and the request (path, query and the headers it is negotiated on). A client, a CDN or the nginx front's tile
cache that sends the ETag back gets `304 Not Modified` after one indexed query on the catalogue, before
pygeoapi builds anything: a tile is built once per load, then revalidated. A new load changes every ETag of its theme.

Requests with a credential (a bearer token, QGIS's basic password, `access_token=`) may see a city's
restricted rows: they are answered `private, no-store` and never validated or stored by a shared cache.
"""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import UTC
from email.utils import format_datetime
from typing import Any

from sdi.server import current_loads
from sdi.server.access import request_token

logger = logging.getLogger(__name__)

# /collections/<theme>, and its items, one item, tiles and coverage: what a load changes.
_DATA_PATH = re.compile(r"/collections/([a-z][a-z0-9_]{0,62})(/(items(/[^/]+)?|tiles(/.*)?|coverage(/.*)?))?/?")
# How long a browser or CDN may reuse an answer before it revalidates (seconds), per kind of resource: a
# minute for what a load changes (its nodes show a load within seconds), longer for a coverage, whose
# answers are large and whose themes (orthophotos, elevation) change rarely. sdi's own nginx keeps tiles
# 1 s and then revalidates (sdi.server.front).
MAX_AGE = {"collection": 60, "items": 60, "item": 60, "tiles": 60, "coverage": 300}
_NEGOTIATED = ("HTTP_ACCEPT", "HTTP_ACCEPT_LANGUAGE")


class Caching:
    """WSGI middleware: validators and Cache-Control for a theme's data; 304 when the client's copy is current."""

    def __init__(self, app: Any, config: dict, versions: Any):
        self.app, self.config = app, config
        self.versions = versions  # theme -> (tag, last_modified) or None (not versioned: no validator)

    def __call__(self, environ: dict, start_response: Any) -> Any:
        with current_loads.one_request():  # the validator and the query below read the same current loads
            return self._answer(environ, start_response)

    def _answer(self, environ: dict, start_response: Any) -> Any:
        kind, theme = _kind(environ)
        # config["resources"] is what this request may see (sdi.server.access hides restricted themes from
        # anonymous requests): a theme outside it gets pygeoapi's 404, never a validator that says it exists.
        if (
            kind is None
            or environ.get("REQUEST_METHOD") not in ("GET", "HEAD")
            or theme not in self.config.get("resources", {})
        ):
            return self.app(environ, start_response)
        if environ.get("HTTP_AUTHORIZATION") or request_token(environ):
            return self.app(environ, _with_headers(start_response, [("Cache-Control", "private, no-store")]))
        try:
            found = self.versions(theme)
        except Exception as exc:  # noqa: BLE001 -- no validator is no cache, never a failed request
            logger.warning("no cache validator for %s: %s", theme, type(exc).__name__)
            found = None
        if found is None:
            return self.app(environ, _with_headers(start_response, [("Cache-Control", "no-cache")]))
        tag, modified = found
        etag = f'W/"{_digest(environ, tag)}"'
        headers = [
            ("ETag", etag),
            ("Cache-Control", f"public, max-age={MAX_AGE[kind]}"),
            ("Vary", "Accept, Accept-Language"),
        ]
        if modified is not None:
            headers.append(("Last-Modified", format_datetime(modified.astimezone(UTC), usegmt=True)))
        if _matches(environ.get("HTTP_IF_NONE_MATCH", ""), etag):
            start_response("304 Not Modified", headers)
            return [b""]
        return self.app(environ, _with_headers(start_response, headers))


def _kind(environ: dict) -> tuple[str | None, str]:
    found = _DATA_PATH.fullmatch(environ.get("PATH_INFO", ""))
    if found is None:
        return None, ""
    rest = found.group(3) or ""
    if not rest:
        return "collection", found.group(1)
    if rest.startswith("items"):
        return ("item" if found.group(4) else "items"), found.group(1)
    return ("tiles" if rest.startswith("tiles") else "coverage"), found.group(1)


def _digest(environ: dict, tag: str) -> str:
    """The ETag: the theme's current loads and everything the answer is chosen by."""
    parts = [
        tag,
        environ.get("PATH_INFO", ""),
        environ.get("QUERY_STRING", ""),
        *(environ.get(h, "") for h in _NEGOTIATED),
    ]
    return hashlib.sha256("\n".join(parts).encode("utf-8", "replace")).hexdigest()[:32]


def _matches(header: str, etag: str) -> bool:
    """If-None-Match compares weakly (RFC 9110 13.1.2): W/ is ignored on both sides; `*` matches any."""
    if header.strip() == "*":
        return True
    wanted = etag.removeprefix("W/")
    return any(t.strip().removeprefix("W/") == wanted for t in header.split(","))


def _with_headers(start_response: Any, extra: list[tuple[str, str]]) -> Any:
    def start(status: str, headers: list, exc_info: Any = None) -> Any:
        names = {name.lower() for name, _ in extra}
        kept = [(n, v) for n, v in headers if n.lower() not in names]
        # Only successful answers are cached; an error must not be stored under the data's validator.
        chosen = extra if status[:1] == "2" else [("Cache-Control", "no-store")]
        return start_response(status, kept + chosen, exc_info)

    return start


def theme_versions(pool: Any) -> Any:  # pool: a callable giving the reader pool
    """theme -> (the stamp of its current loads, the newest load's time), or None when it has no loads."""

    def versions(theme: str) -> tuple[str, Any] | None:
        with pool().connection() as conn:
            found = current_loads.current(conn, theme)
        if not found.loads:
            return None
        return found.stamp, found.loaded_at

    return versions
