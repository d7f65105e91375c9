"""The upload service at /uploads behind the nginx front: a city loads a file over HTTPS with a load token.

    POST /uploads/load?theme=roads&name=drogi.gpkg[&city=T][&layer=..&encoding=..&crs=..][&dry_run=1]
         [&allow_empty=1&accept_rejects=1&allow_shrink=1&clip_to_city=1]     body: the file's bytes
         -> 200 the load report (the keys of `sdi load --report`); 4xx {"detail", "fix", "exit_code"[, "report"]}
    GET  /uploads/rejects?theme=roads[&load=ID]                               -> the rejects of a load

Who: `Authorization: Bearer TOKEN` with a token of scope `load`, which is bound to one city; the load is
for that city and no other (a `city` parameter naming another is refused, 403).
As whom: this process holds the owner's login (like the analysis runner), never the API's read-only
workers, and calls sdi.pipeline.run_load for the token's city only. The guard, the SECURITY DEFINER
catalogue functions and the loader's safety checks apply as for any load. The trade-off (against a stored
per-city password read by a separate OS user) is in the README: a bug here could write another city's
rows, which the database would not stop, but no city's password is kept on the server.
How: nginx streams the body (no buffering, its own body limit for this location) to this process, which
writes it to a private temp file named only from a checked file name (never a client's path), and deletes
it after the load. One load at a time, so a burst of uploads queues instead of exhausting memory.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import psycopg

from sdi.core import tokens
from sdi.core.catalogue import open_catalogue
from sdi.core.errors import ConfigError, DatabaseError, InputError, SdiError, first_line
from sdi.core.settings import Settings, get_settings
from sdi.core.unix_wsgi import serve_unix
from sdi.loader.guard import LoadRefused
from sdi.remote.body import Counted, Refusal, receive
from sdi.server.services import Service, ServiceContext

logger = logging.getLogger(__name__)

SUFFIXES = (".zip", ".gpkg", ".geojson", ".json", ".gml", ".xml", ".kml", ".csv", ".txt")
_FLAGS = ("dry_run", "allow_empty", "accept_rejects", "allow_shrink", "clip_to_city")
_TEXT = ("city", "theme", "name", "layer", "encoding", "crs", "load")
# A letter or digit first (no dot files, no "-option"), then letters, digits, space, dot, dash, underscore.
_NAME = re.compile(r"[^\W_][\w. -]{0,99}")
_ONE_LOAD = threading.Lock()
_STATUS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    411: "Length Required",
    413: "Payload Too Large",
    422: "Unprocessable Entity",
    503: "Service Unavailable",
}


def max_upload_bytes(settings: Settings) -> int:
    """The largest body taken: a packed file is never larger than what it may unpack to (SDI_MAX_UNZIPPED_MB)."""
    return settings.max_unzipped_mb * 1024 * 1024


def service(ctx: ServiceContext) -> Service:
    """The upload service of this `sdi serve`: its socket, its nginx location and its owner's login."""
    sock = ctx.run_dir / "uploads.sock"
    limit = ctx.settings.max_unzipped_mb
    # Own body limit (the API's is 1 MB) and no request buffering: the body streams to the service, which
    # counts it again. A chunked body is still buffered by nginx (HTTP/1.0 upstream), and measured first.
    nginx = (
        f"        location /uploads/ {{ proxy_pass http://unix:{sock}:/uploads/; proxy_set_header Host"
        f" $http_host; client_max_body_size {limit}m; proxy_request_buffering off; proxy_buffering off;"
        " client_body_timeout 60s; proxy_send_timeout 600s; proxy_read_timeout 3600s; }"
    )
    env = {"SDI_HOME": str(ctx.settings.home_abs)}
    if ctx.settings.database_url:
        env["SDI_DATABASE_URL"] = ctx.settings.database_url
    return Service(
        "uploads", [sys.executable, "-m", "sdi.remote.upload", str(sock)], nginx, env=env, as_user=False
    )  # the owner's login: never the API's OS user, which cannot read it


def app(environ: dict, start_response: Callable) -> list[bytes]:
    """The WSGI application: JSON answers; every refusal a 4xx with one line and its fix."""
    environ["wsgi.input"] = body_in = Counted(environ["wsgi.input"])
    try:
        status, body = _route(environ, get_settings())
    except Refusal as exc:
        status, body = exc.status, {"detail": exc.detail, "fix": exc.fix, "exit_code": exc.exit_code}
    except (DatabaseError, psycopg.OperationalError) as exc:
        logger.error("upload failed on the database: %s", first_line(exc))
        status, body = (
            503,
            {"detail": "the database cannot be reached now", "fix": "send the file again later", "exit_code": 4},
        )
    body_in.drain(environ, max_upload_bytes(get_settings()))
    start_response(f"{status} {_STATUS.get(status, 'Error')}", [("Content-Type", "application/json")])
    return [json.dumps(body, ensure_ascii=False, default=str).encode()]


def _route(environ: dict, settings: Settings) -> tuple[int, dict]:
    path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
    if path.rstrip("/") == "/uploads":
        return 200, {
            "endpoints": ["POST /uploads/load", "GET /uploads/rejects"],
            "max_bytes": max_upload_bytes(settings),
            "suffixes": list(SUFFIXES),
        }
    if path not in ("/uploads/load", "/uploads/rejects"):
        raise Refusal(404, f"no such endpoint {path[:80]!r}", "use POST /uploads/load or GET /uploads/rejects")
    params = _params(environ.get("QUERY_STRING", ""))
    city = _grant_city(environ, params, settings)
    if path == "/uploads/rejects":
        return _rejects(city, params, settings)
    if method != "POST":
        raise Refusal(405, "send the file with POST", "use `sdi load FILE --server URL`")
    return _load(environ, city, params, settings)


def _params(query: str) -> dict[str, str]:
    """The query's parameters: known names only, each once, no control characters."""
    parsed = parse_qs(query, keep_blank_values=True, max_num_fields=20)
    unknown = sorted(set(parsed) - set(_FLAGS) - set(_TEXT))
    if unknown:
        raise Refusal(400, f"unknown parameter {unknown[0][:40]!r}", f"use only: {', '.join(_TEXT + _FLAGS)}")
    if any(len(v) > 1 for v in parsed.values()):
        raise Refusal(400, "a parameter is given twice", "give each parameter once")
    params = {k: v[0] for k, v in parsed.items()}
    if any(not v.isprintable() or len(v) > 200 for v in params.values()):
        raise Refusal(400, "a parameter holds control characters or is too long", "send plain values")
    return params


def _grant_city(environ: dict, params: dict[str, str], settings: Settings) -> str:
    """The token's city, checked before a byte of the body is read: a live token of scope load for that city."""
    header = environ.get("HTTP_AUTHORIZATION", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else ""
    with open_catalogue(settings) as conn:
        grant = tokens.grant(conn, token)
    if grant is None:
        raise Refusal(
            401,
            "a load needs a live token of scope load" if token else "no token was sent",
            "set SDI_TOKEN (made by `sdi token add NAME --city TERYT --scope load`)",
            exit_code=2,
        )
    if grant.scope != "load" or grant.city is None:
        raise Refusal(
            403,
            f"token {grant.name} may not load (scope {grant.scope})",
            "ask for a token made with --scope load --city TERYT",
            exit_code=2,
        )
    if params.get("city", grant.city) != grant.city:
        raise Refusal(
            403,
            f"token {grant.name} loads city {grant.city}, not {params['city'][:20]}",
            f"use --city {grant.city}, or a token for that city",
            exit_code=2,
        )
    return grant.city


def _file_name(params: dict[str, str]) -> str:
    """The client's file name, checked: a name only (never a path), with a suffix the loader reads."""
    name = params.get("name", "")
    if not _NAME.fullmatch(name) or ".." in name:
        raise Refusal(
            400,
            f"the file name {name[:60]!r} is not a plain file name",
            "name the file with letters, digits, space . - _ only (no folders)",
        )
    if not name.lower().endswith(SUFFIXES):
        raise Refusal(
            400,
            f"the server cannot load a {Path(name).suffix or 'suffix-less'} file",
            f"send one of {', '.join(SUFFIXES)} (zip a shapefile with its .dbf, .shx, .prj)",
        )
    return name


def _load(environ: dict, city: str, params: dict[str, str], settings: Settings) -> tuple[int, dict]:
    """Stream the body to a private temp file, then run the normal pipeline for `city` alone."""
    from sdi.pipeline import run_load

    theme, name = params.get("theme", ""), _file_name(params)
    if not theme:
        raise Refusal(400, "no theme given", "add --theme THEME (see `sdi themes`)")
    flags: dict[str, Any] = {f: params.get(f, "") in ("1", "true") for f in _FLAGS}
    options: dict[str, Any] = {k: params[k] for k in ("layer", "encoding", "crs") if params.get(k)}
    folder = _private_folder(settings)
    try:
        path = receive(environ, folder / name, max_upload_bytes(settings))
        with _ONE_LOAD:
            report = run_load(path, city=city, theme=theme, settings=settings, **options, **flags)
    except LoadRefused as refused:
        body = {
            "detail": _hide(refused.message, folder),
            "fix": refused.fix,
            "exit_code": refused.exit_code,
            "report": _client_view(refused.report.as_dict(), name) if refused.report else None,
        }
        return 409, body
    except (ConfigError, InputError) as exc:
        raise Refusal(
            400 if isinstance(exc, ConfigError) else 422, _hide(exc.message, folder), exc.fix or "", exc.exit_code
        ) from None
    except DatabaseError:
        raise
    except SdiError as exc:
        raise Refusal(422, _hide(exc.message, folder), exc.fix or "", exc.exit_code) from None
    except (psycopg.Error, OSError, ValueError, RuntimeError) as exc:  # a reader's failure on a hostile file
        logger.exception("upload of %s for city %s failed", name, city)
        raise Refusal(
            422,
            f"the server could not load this file ({type(exc).__name__}: {first_line(exc)[:120]})",
            "check it with `sdi inspect FILE`; if it loads locally, report it",
            70,
        ) from None
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 200, _client_view(report.as_dict(), name)


def _hide(message: str, folder: Path) -> str:
    """A loader's message names the file by its path: the client sees its own file name, not our folders."""
    return message.replace(f"{folder}{os.sep}", "")


def _private_folder(settings: Settings) -> Path:
    base = settings.home_abs / "uploads"
    base.mkdir(parents=True, exist_ok=True)
    base.chmod(0o700)  # uploads are a city's unpublished data: the API's OS user may not read them
    return Path(tempfile.mkdtemp(dir=base))


def _client_view(report: dict, name: str) -> dict:
    """The report as the client sees it: its own file name, never the server's temp path."""
    return {**report, "source": {**report.get("source", {}), "path": name}}


def _rejects(city: str, params: dict[str, str], settings: Settings) -> tuple[int, dict]:
    from sdi.core import catalogue, sqlfiles

    theme, load = params.get("theme", ""), params.get("load")
    if load is not None and not (load.isascii() and load.isdigit()):
        raise Refusal(400, f"load {load[:20]!r} is not a number", "give --load ID from the load's report")
    try:
        sqlfiles.check_theme(theme)
    except SdiError as exc:
        raise Refusal(400, exc.message, exc.fix, exc.exit_code) from None
    with open_catalogue(settings) as conn:
        # catalogue.rejects trusts its load id: a load of another city (or theme) is not this token's to read
        if (
            load
            and not conn.execute(
                "SELECT 1 FROM sdi.loads WHERE load_id = %s AND city = %s AND theme = %s", [int(load), city, theme]
            ).fetchone()
        ):
            raise Refusal(404, f"no load {load} of {theme} for city {city}", "see the load id in its report")
        load_id, rows = catalogue.rejects(conn, city, theme, int(load) if load else None)
    rows = [{**r, "wkb": r["wkb"].hex() if r["wkb"] else None} for r in rows]  # JSON has no bytes
    return 200, {"city": city, "theme": theme, "load_id": load_id, "rejects": rows}


def main(sock: str) -> None:
    """Serve the upload API on a unix socket until stopped."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    serve_unix(sock, app)


if __name__ == "__main__":
    main(sys.argv[1])
