"""Normalise CQL2-JSON request bodies to the form pygeofilter 0.4 parses, before pygeoapi reads them.

CQL2 1.0 writes BETWEEN as {"op": "between", "args": [property, low, high]}; pygeofilter 0.4 still
expects the draft form [property, [low, high]]. Both are accepted here, the standard one rewritten.
"""

from __future__ import annotations

import io
import json
import logging

logger = logging.getLogger(__name__)


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


class CqlJsonBodies:
    """WSGI middleware: rewrite the JSON body of POST .../items queries; leave everything else alone."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        kind = environ.get("CONTENT_TYPE", "")
        is_query = environ.get("REQUEST_METHOD") == "POST" and environ.get("PATH_INFO", "").endswith("/items")
        if is_query and "json" in kind and "geo+json" not in kind:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            try:
                body = json.dumps(normalise(json.loads(body))).encode()
            except ValueError:
                pass  # not JSON: pygeoapi answers it with its own 400
            environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))
        return self.app(environ, start_response)
