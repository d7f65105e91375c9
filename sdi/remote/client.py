"""The client of the upload service: `sdi load FILE --server URL` and `sdi rejects --server URL`.

The file is streamed in 1 MB pieces with its Content-Length (a progress callback after each piece); a
shapefile is first zipped with its sidecars, since the server takes one file. A cut upload loads nothing
on the server, so sending it again is always safe (restartable, not resumable). The token goes in the
Authorization header only, and only over HTTPS, except to this machine (tests, an SSH tunnel).
"""

from __future__ import annotations

import http.client
import json
import logging
import ssl
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from ipaddress import ip_address
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from sdi.core.errors import ConfigError, InputError, SdiError

logger = logging.getLogger(__name__)

_CHUNK = 1024 * 1024
_SIDECARS = (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx")


class RemoteError(SdiError):
    """The server refused or failed a request: its one line, its fix and the exit code a local load gives."""

    def __init__(self, message: str, fix: str, exit_code: int, status: int, report: dict | None = None):
        super().__init__(message, fix)
        self.exit_code, self.status, self.report = exit_code, status, report


def upload(
    server: str,
    token: str,
    path: Path,
    params: dict[str, str | bool | None],
    progress: Callable[[int, int], None] = lambda sent, total: None,
) -> dict:
    """Send `path` to POST /uploads/load and return the server's load report (RemoteError on a refusal)."""
    query = {k: ("1" if v is True else v) for k, v in params.items() if v not in (None, False, "")}
    with _one_file(Path(path)) as sent:
        query["name"] = sent.name
        return _request(server, token, "POST", "/uploads/load?" + urlencode(query), sent, progress)


def rejects(server: str, token: str, theme: str, load_id: int | None, city: str | None) -> dict:
    """The rejects of a load of the token's city, with their geometry as WKB (bytes)."""
    query = {
        "theme": theme,
        **({"load": str(load_id)} if load_id is not None else {}),
        **({"city": city} if city else {}),
    }
    found = _request(server, token, "GET", "/uploads/rejects?" + urlencode(query), None, lambda s, t: None)
    found["rejects"] = [{**r, "wkb": bytes.fromhex(r["wkb"]) if r["wkb"] else None} for r in found["rejects"]]
    return found


@contextmanager
def _one_file(path: Path) -> Iterator[Path]:
    """The file to send: the path itself, or a shapefile zipped with its sidecars in a temporary folder."""
    if not path.is_file():
        raise InputError(f"{path} is not a file", "give the path of the file to load")
    if path.suffix.lower() != ".shp":
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="sdi-push-") as folder:
        packed = Path(folder) / (path.stem + ".zip")
        with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as zf:
            for side in path.parent.iterdir():
                if side.stem == path.stem and side.suffix.lower() in _SIDECARS:
                    zf.write(side, side.name)
        yield packed


def _connection(server: str) -> tuple[http.client.HTTPConnection, str]:
    parts = urlsplit(server)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"--server {server!r} is not an http(s) URL", "give e.g. https://sdi.example.gov.pl")
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise ConfigError(
            f"--server {server} is plain HTTP: the token would cross the network readable",
            "use the server's https:// URL",
        )
    if parts.scheme == "https":
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=3600, context=ssl.create_default_context()
        )
    else:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=3600)
    return conn, parts.path.rstrip("/")


def _loopback(host: str) -> bool:
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _request(
    server: str, token: str, method: str, target: str, body: Path | None, progress: Callable[[int, int], None]
) -> dict:
    conn, prefix = _connection(server)
    total = body.stat().st_size if body else 0
    try:
        conn.putrequest(method, prefix + target)
        conn.putheader("Authorization", f"Bearer {token}")
        conn.putheader("Accept", "application/json")
        if body is not None:
            conn.putheader("Content-Type", "application/octet-stream")
            conn.putheader("Content-Length", str(total))
        conn.endheaders()
        if body is not None:
            _send(conn, body, total, progress)
        answer = conn.getresponse()
        status, raw = answer.status, answer.read()
    except (OSError, http.client.HTTPException) as exc:
        raise SdiError(
            f"cannot reach {server}: {exc}",
            "check the URL and the network; send the file again (a cut upload loads nothing)",
        ) from None
    finally:
        conn.close()
    return _answer(status, raw)


def _send(conn: http.client.HTTPConnection, body: Path, total: int, progress: Callable[[int, int], None]) -> None:
    sent = 0
    with open(body, "rb") as f:
        while chunk := f.read(_CHUNK):
            try:
                conn.send(chunk)
            except (BrokenPipeError, ConnectionResetError):
                return  # the server answered early (a refusal, a body too large): its answer says why
            sent += len(chunk)
            progress(len(chunk), total)


def _answer(status: int, raw: bytes) -> dict:
    try:
        data = json.loads(raw)
    except ValueError:
        data = None
    if status == 200 and isinstance(data, dict):
        return data
    if not isinstance(data, dict):
        raise SdiError(f"the server answered {status} without a JSON body", "check that --server is an sdi server")
    message = str(data.get("detail") or data.get("description") or f"HTTP {status}")
    fix = str(data.get("fix") or ("send a smaller file" if status == 413 else "see the message"))
    given = data.get("exit_code")
    code = given if isinstance(given, int) else (3 if status < 500 else 1)
    raise RemoteError(message, fix, code, status, data.get("report"))
