"""Restricted themes in the API: served only to requests with a valid token (WSGI middleware).

A theme whose schema says `access: restricted` (utility networks: critical infrastructure) answers 401 to
a request without a valid token, on every path under /collections/<theme>: items, one item, tiles,
queryables, schema. For such a request the theme is also taken out of pygeoapi's configuration while
pygeoapi answers, so /collections, the landing page and the HTML pages do not show it either; the
OpenAPI document never lists it (sdi.publish). gunicorn's sync workers answer one request at a time,
which is what makes changing the configuration for one request safe.

The token comes as `Authorization: Bearer <token>`, as `?access_token=<token>`, or as the password of
HTTP basic authentication (any user name), which is what QGIS 3.22 can send for an OGC API layer.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import time
from urllib.parse import parse_qsl

from gunicorn import glogging

from sdi import tokens

logger = logging.getLogger(__name__)
_CACHE_SECONDS = 30  # a revoked token stops working within this time


class RestrictedThemes:
    def __init__(self, app, config: dict, restricted: set[str], check_token):
        self.app, self.config, self.restricted = app, config, restricted
        self.check_token = check_token  # digest -> bool, asks the database
        self._seen: dict[str, tuple[bool, float]] = {}

    def __call__(self, environ, start_response):
        hidden = self.restricted & set(self.config.get("resources", {}))
        if not hidden or self._authorised(environ):
            return self.app(environ, start_response)
        parts = environ.get("PATH_INFO", "").strip("/").split("/")
        if len(parts) >= 2 and parts[0] == "collections" and parts[1] in hidden:
            body = json.dumps({"code": "Unauthorized", "description": f"the theme {parts[1]} is restricted:"
                               " send a valid token (Authorization: Bearer <token>, or access_token=<token>)"})
            start_response("401 Unauthorized", [("Content-Type", "application/json"),
                                                ("WWW-Authenticate", 'Bearer realm="sdi"'),
                                                ("Content-Length", str(len(body)))])
            return [body.encode()]
        resources = self.config["resources"]
        self.config["resources"] = {k: v for k, v in resources.items() if k not in hidden}
        try:
            return list(self.app(environ, start_response))  # answered in full before the themes come back
        finally:
            self.config["resources"] = resources

    def _authorised(self, environ) -> bool:
        token = None
        header = environ.get("HTTP_AUTHORIZATION", "")
        if header.lower().startswith("bearer "):
            token = header[7:].strip()
        elif header.lower().startswith("basic "):
            # QGIS 3.22 can send only user and password with an OGC API layer: the password is the token.
            try:
                token = base64.b64decode(header[6:].strip()).decode("utf-8").partition(":")[2]
            except (ValueError, UnicodeDecodeError):
                return False
        else:
            token = dict(parse_qsl(environ.get("QUERY_STRING", ""))).get("access_token")
        if not token:
            return False
        key = tokens.digest(token)
        valid, when = self._seen.get(key, (False, 0.0))
        if time.monotonic() - when > _CACHE_SECONDS:
            valid = self.check_token(key)
            self._seen[key] = (valid, time.monotonic())
        return valid


_SECRET_PARAM = re.compile(r"(access_token=)[^&\s]+")


class RedactingLogger(glogging.Logger):
    """gunicorn's logger with `access_token=` values masked in the access log: tokens never reach logs."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("r", "q", "f"):
            if isinstance(atoms.get(key), str):
                atoms[key] = _SECRET_PARAM.sub(r"\1***", atoms[key])
        return atoms
