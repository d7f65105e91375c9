"""QGIS Server behind nginx: a pool of single-threaded processes answering HTTP on one unix socket.

Run by `sdi serve` (sdi.server.wms) with Debian's /usr/bin/python3, the only Python with the QGIS bindings,
so it imports nothing from sdi and nothing outside the standard library but qgis:

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 qgis_server_app.py --socket S --projects DIR --workers N

QGIS Server is not thread-safe, so each worker is a process with its own QgsServer, forked after the socket
is bound; the kernel hands each connection to one idle worker. The parent restarts a worker that dies and
stops them all on SIGTERM. /wms answers from DIR/all.qgs and /wms/<TERYT> from DIR/<TERYT>.qgs: the project
comes from the path only, never from a client's MAP parameter (which would open any file QGIS can read).
"""

import os
import sys

# This file's folder is sdi/server, whose html.py would shadow the standard library's (run with -P anyway).
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

import argparse
import http.server
import re
import signal
import socket
import socketserver
import tempfile
import time
import urllib.parse
from typing import Any

_CITY = re.compile(r"[0-9]{7}")
_MAX_BODY = 1 << 20


def _service_file(name: str) -> str:
    """A libpq service file from the reader's URL in our environment, private to this process's user."""
    params = _conninfo(os.environ.get("SDI_DATABASE_URL", ""))
    # QGIS links Debian's libpq 15, which refuses a service naming an option it does not know: the replica
    # set's load_balance_hosts is libpq 16's. Without it the hosts are tried in order (standbys first).
    params.pop("load_balance_hosts", None)
    fd, path = tempfile.mkstemp(prefix="pg_service.", suffix=".conf")
    with os.fdopen(fd, "w") as out:  # mkstemp: mode 600
        out.write(f"[{name}]\n" + "".join(f"{k}={v}\n" for k, v in params.items() if v and "\n" not in v))
    return path


def _conninfo(text: str) -> dict:
    """libpq's two spellings: postgresql://user:password@host:port/db?k=v, or key=value with quoted values."""
    if "://" in text:
        url = urllib.parse.urlsplit(text)
        params = dict(urllib.parse.parse_qsl(url.query))
        params.update(
            host=urllib.parse.unquote(url.hostname or ""),
            port=str(url.port or ""),
            dbname=urllib.parse.unquote(url.path.lstrip("/")),
            user=urllib.parse.unquote(url.username or ""),
            password=urllib.parse.unquote(url.password or ""),
        )
        return params
    return {
        k: re.sub(r"\\(.)", r"\1", v[1:-1]) if v.startswith("'") else v
        for k, v in re.findall(r"(\w+)\s*=\s*('(?:[^'\\]|\\.)*'|\S+)", text)
    }


class _Handler(http.server.BaseHTTPRequestHandler):
    server: "_Server"  # the server that made it, with the projects folder and QGIS (a string: defined below)
    server_version = "sdi-wms"
    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:
        self._answer(b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY:
            self._send(413, "text/plain", b"request body over 1 MB\n")
            return
        self._answer(self.rfile.read(length))

    def _answer(self, body: bytes) -> None:
        from qgis.server import QgsBufferServerRequest, QgsBufferServerResponse, QgsServerRequest

        path, _, query = self.path.partition("?")
        project = _project(self.server.projects, path)
        if project is None:
            self._send(
                404,
                "text/xml",
                b'<?xml version="1.0" encoding="UTF-8"?>\n<ServerException>no such map:'
                b" /wms for every city, /wms/TERYT for one</ServerException>\n",
            )
            return
        params = [(k, v) for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True) if k.upper() != "MAP"]
        params.append(("MAP", project))
        host = self.headers.get("Host", "localhost")
        url = f"http://{host}{path}?{urllib.parse.urlencode(params)}"
        method = QgsServerRequest.PostMethod if self.command == "POST" else QgsServerRequest.GetMethod
        request = QgsBufferServerRequest(url, method, {}, body or None)
        response = QgsBufferServerResponse()
        _refresh(self.server.qgis, project)
        self.server.qgis.handleRequest(request, response)
        headers = {k: response.header(k) for k in response.headers()}
        self._send(response.statusCode(), headers.pop("Content-Type", "text/xml"), bytes(response.body()), headers)

    def _send(self, status: int, mime: str, body: bytes, headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", mime)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            if key.lower() not in ("content-length", "server", "date"):
                self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args) -> None:
        pass


def _project(folder: str, path: str) -> str | None:
    name = path.rstrip("/").removeprefix("/wms").strip("/") or "all"
    if name != "all" and not _CITY.fullmatch(name):
        return None
    project = os.path.join(folder, f"{name}.qgs")
    return project if os.path.exists(project) else None


_seen: dict[str, float] = {}


def _refresh(qgis, project: str) -> None:
    """Drop a cached project that sdi serve has rewritten (QGIS's own file watcher needs a Qt event loop)."""
    mtime = os.stat(project).st_mtime
    if _seen.get(project, mtime) != mtime:
        qgis.serverInterface().removeConfigCacheEntry(project)
    _seen[project] = mtime


class _Server(socketserver.UnixStreamServer):
    def __init__(self, sock: socket.socket, projects: str):
        super().__init__(sock.getsockname(), _Handler, bind_and_activate=False)
        self.socket.close()
        self.socket, self.projects = sock, projects
        self.qgis: Any = None  # the QgsServer, made by the worker after the fork


def _worker(sock: socket.socket, projects: str) -> None:
    from qgis.core import QgsApplication
    from qgis.server import QgsServer

    app = QgsApplication([], False)
    app.initQgis()
    server = _Server(sock, projects)
    server.qgis = QgsServer()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))  # exitQgis() would segfault on loaded layers
    server.serve_forever()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--socket", required=True)
    parser.add_argument("--projects", required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--service", default="sdi_wms")
    args = parser.parse_args()
    os.environ["PGSERVICEFILE"] = _service_file(args.service)
    os.environ.pop("SDI_DATABASE_URL", None)
    if os.path.exists(args.socket):
        os.unlink(args.socket)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(args.socket)
    os.chmod(args.socket, 0o660)
    sock.listen(64)
    children: dict[int, int] = {}
    stopping = False

    def stop(*_) -> None:
        nonlocal stopping
        stopping = True
        for pid in children:
            os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopping:
        while len(children) < args.workers and not stopping:
            pid = os.fork()
            if pid == 0:
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                _worker(sock, args.projects)
                os._exit(0)
            children[pid] = pid
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        children.pop(pid, None)
        if not stopping:
            print(f"sdi wms: worker {pid} ended ({status}), starting another", file=sys.stderr, flush=True)
            time.sleep(0.5)
    for pid in list(children):
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
    os.unlink(args.socket)
    os.unlink(os.environ["PGSERVICEFILE"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
