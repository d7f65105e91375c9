"""Limits on what one request may make a worker do: body size, and the size of a filter.

A 50 MB CQL2-JSON POST took a worker to 2.4 GB for 30 s, and an IN list of 70,000 values reached
PostgreSQL's limit of 65,535 bound parameters (a 500). Each limit is answered before the work: 413 for a
body too big, 400 for a filter too big, each with its reason. nginx enforces the body size in front too;
this is the wall for whoever reaches gunicorn directly.
"""

from __future__ import annotations

import io
import json
import logging

from pygeofilter import ast

logger = logging.getLogger(__name__)

#: The largest request body (CQL2-JSON POSTs are the only bodies the read-only API takes).
MAX_BODY_BYTES = 1_000_000
#: The most values of one IN list, and the most nodes (operators, properties, values) of one filter.
MAX_IN_VALUES = 1_000
MAX_FILTER_NODES = 2_000
#: The deepest nesting of one filter: the walks over it (reprojection, SQL) recurse once per level.
MAX_FILTER_DEPTH = 250


class BodyLimit:
    """WSGI middleware: a body over MAX_BODY_BYTES gets a 413, by its Content-Length or while it is read."""

    def __init__(self, app, limit: int = MAX_BODY_BYTES):
        self.app, self.limit = app, limit

    def __call__(self, environ, start_response):
        declared = environ.get("CONTENT_LENGTH") or ""
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if declared.strip().isdigit() and int(declared) > self.limit:
            return _too_large(start_response, self.limit)
        if chunked or declared:
            # Read at most one byte past the limit: a chunked body (no Content-Length) or one whose
            # Content-Length understates it is cut off there, never held whole in memory.
            body = environ["wsgi.input"].read(self.limit + 1)
            if len(body) > self.limit:
                return _too_large(start_response, self.limit)
            environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))
            environ.pop("HTTP_TRANSFER_ENCODING", None)
        return self.app(environ, start_response)


def _too_large(start_response, limit: int):
    body = json.dumps(
        {
            "code": "RequestEntityTooLarge",
            "type": "RequestEntityTooLarge",
            "description": f"the request body is over the limit of {limit:,} bytes: send a smaller"
            " filter (a long IN list is better as a spatial or range condition)",
        }
    ).encode()
    start_response(
        "413 Request Entity Too Large",
        [("Content-Type", "application/json"), ("Content-Length", str(len(body))), ("Connection", "close")],
    )
    return [body]


def filter_problem(tree) -> str | None:
    """Why a parsed filter is too big to run, or None."""
    nodes, stack = 0, [(tree, 1)]
    while stack:  # a loop, not recursion: a deep filter must not exhaust Python's stack here
        node, depth = stack.pop()
        nodes += 1
        if nodes > MAX_FILTER_NODES:
            return f"the filter has over {MAX_FILTER_NODES:,} terms: split it into several requests"
        if depth > MAX_FILTER_DEPTH:
            return (
                f"the filter is nested over {MAX_FILTER_DEPTH} levels deep (e.g. a long chain of OR):"
                " use IN (...) for a list of values"
            )
        if isinstance(node, ast.In) and len(node.sub_nodes) > MAX_IN_VALUES:
            return (
                f"an IN list has {len(node.sub_nodes):,} values, over the limit of {MAX_IN_VALUES:,}:"
                " split it into several requests"
            )
        if isinstance(node, ast.Node):
            stack.extend((sub, depth + 1) for sub in node.get_sub_nodes())
    return None
