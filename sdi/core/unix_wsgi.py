"""A threaded WSGI server on a unix socket, for the services behind nginx (uploads, analysis jobs); stdlib only."""

from __future__ import annotations

import logging
import os
import socket
import socketserver
from collections.abc import Callable
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

logger = logging.getLogger(__name__)


class _UnixServer(socketserver.ThreadingMixIn, WSGIServer):
    address_family = socket.AF_UNIX
    daemon_threads = True

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)
        # nginx's workers run as the API's OS user and must connect; the socket answers only with a token
        os.chmod(self.server_address, 0o666)  # type: ignore[arg-type]  # AF_UNIX: the address is a path; typeshed types TCPServer's as (host, port)
        self.server_name, self.server_port = "localhost", 0
        self.setup_environ()


class _Handler(WSGIRequestHandler):
    def setup(self) -> None:
        super().setup()
        self.client_address = ("unix", 0)  # a unix peer has no address; wsgiref indexes it

    def address_string(self) -> str:
        return "unix"

    def log_message(self, format: str, *args: Any) -> None:
        # the request line holds no secret: tokens travel in the Authorization header only
        logger.info("%s", format % args)


def serve_unix(sock: str, app: Callable[..., Any]) -> None:
    """Serve `app` on the unix socket `sock` until the process is stopped."""
    Path(sock).unlink(missing_ok=True)
    with _UnixServer(sock, _Handler) as server:  # type: ignore[arg-type]  # AF_UNIX: the address is a path, as above
        server.set_app(app)
        server.serve_forever()
