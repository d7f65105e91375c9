"""Restricted themes in the API: served only to requests with a valid token (WSGI middleware).

A theme whose schema says `access: restricted` (utility networks: critical infrastructure) is invisible
to a request without a valid token: the theme is taken out of pygeoapi's configuration while pygeoapi
answers, so every path under /collections/<theme> gets pygeoapi's own 404 for an unknown collection, and
/collections, the landing page and the HTML pages do not show it; the OpenAPI document never lists it
(sdi.server.publish). An anonymous client cannot tell a restricted theme from one that does not exist. gunicorn's
sync workers answer one request at a time, which is what makes changing the configuration for one
request safe.

The token comes as `Authorization: Bearer <token>`, as `?access_token=<token>` (however percent-encoded:
`token_from_query` is the one reading, which the log masking uses too), or as the password of HTTP basic
authentication (any user name), which is what QGIS 3.22 can send for an OGC API layer. A token made for one
city (`sdi token add NAME --city TERYT`) opens only that city's rows: its city travels to the providers in
the WSGI environment under CITY_KEY, and they add `city = %s` to their SQL.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable
from urllib.parse import parse_qsl

from sdi.core import tokens

logger = logging.getLogger(__name__)
_CACHE_SECONDS = 30  # a revoked token stops working within this time
#: The query parameter that may carry a token (QGIS puts it in a layer's URL).
TOKEN_PARAM = "access_token"
#: The WSGI environment key of a city-bound token's city, read by sdi.server.provider_sql and sdi.server.tiles.
CITY_KEY = "sdi.token_city"

#: digest -> (valid, city or None for every city)
TokenCheck = Callable[[str], tuple[bool, str | None]]


def token_from_query(query_string: str) -> str | None:
    """The token a query string carries, decoded as the middleware reads it (the last `access_token` wins).

    parse_qsl decodes names and values alike, so `access%5Ftoken=` and `%61ccess_token=` are the same
    parameter; whoever masks tokens in logs must find them by this same reading.
    """
    found = None
    for name, value in parse_qsl(query_string or "", keep_blank_values=True):
        if name == TOKEN_PARAM:
            found = value
    return found


class RestrictedThemes:
    def __init__(self, app, config: dict, restricted: set[str], check_token: TokenCheck):
        self.app, self.config, self.restricted = app, config, restricted
        self.check_token = check_token  # digest -> (valid, city), asks the database
        self._seen: dict[str, tuple[bool, str | None, float]] = {}

    def __call__(self, environ, start_response):
        environ.pop(CITY_KEY, None)  # only this middleware sets it, never a client
        hidden = self.restricted & set(self.config.get("resources", {}))
        if not hidden:
            return self.app(environ, start_response)
        valid, city = self._scope(environ)
        if valid:
            if city is not None:
                environ[CITY_KEY] = city
            return self.app(environ, start_response)
        resources = self.config["resources"]
        self.config["resources"] = {k: v for k, v in resources.items() if k not in hidden}
        try:
            return list(self.app(environ, start_response))  # answered in full before the themes come back
        finally:
            self.config["resources"] = resources

    def _scope(self, environ) -> tuple[bool, str | None]:
        token = request_token(environ)
        if not token:
            return False, None
        key = tokens.digest(token)
        valid, city, when = self._seen.get(key, (False, None, 0.0))
        if time.monotonic() - when > _CACHE_SECONDS:
            if len(self._seen) > 10_000:
                self._seen.clear()  # a client sending ever new made-up tokens must not grow the worker
            valid, city = self.check_token(key)
            self._seen[key] = (valid, city, time.monotonic())
        return valid, city


def request_token(environ) -> str | None:
    header = environ.get("HTTP_AUTHORIZATION", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    if header.lower().startswith("basic "):
        # QGIS 3.22 can send only user and password with an OGC API layer: the password is the token.
        try:
            return base64.b64decode(header[6:].strip()).decode("utf-8").partition(":")[2]
        except (ValueError, UnicodeDecodeError):
            return None
    return token_from_query(environ.get("QUERY_STRING", ""))
