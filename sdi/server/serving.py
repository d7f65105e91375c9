"""`sdi serve`: nginx in front of pygeoapi under gunicorn, both supervised by this process.

    client -> nginx (--host:--port; slow clients, body limit, static files) -> unix socket -> gunicorn
              (master: this user; workers: sdi-api when root, reader's login only) -> PostGIS

This process writes the configurations, starts both, passes their output on with secrets masked
(sdi.server.logs), reloads gunicorn when the catalogue changes, and stops both when either dies or when it is
stopped itself (SIGTERM, Ctrl-C): nothing is left behind holding the port.
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import yaml

from sdi.core import replicas, roles
from sdi.core.catalogue import open_catalogue
from sdi.core.cluster import Cluster
from sdi.core.db import database_url, scalar
from sdi.core.errors import SdiError, ServeError, first_line
from sdi.core.settings import Settings, get_settings
from sdi.server import downloads, front, host_user, services
from sdi.server.host_user import HostUser
from sdi.server.logs import redact
from sdi.server.publish import write_config
from sdi.server.records import public_url

logger = logging.getLogger(__name__)

_POLL_SECONDS = 2
_STOP_SECONDS = 30
# Variables that may hold a credential: the workers face the network and get none of them.
_SECRET_ENV = {
    "SDI_DATABASE_URL",
    "SDI_READER_DATABASE_URL",
    "SDI_CITY_PASSWORD",
    "SDI_DB_PASSWORD",
    "SDI_TEST_DATABASE_URL",
    "PGPASSWORD",
    "PGPASSFILE",
    "PGSERVICEFILE",
    "DATABASE_URL",
}
# The client's address as nginx saw it: gunicorn's own peer is the socket.
_ACCESS_FORMAT = '%({x-forwarded-for}i)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"'


def serve(settings: Settings | None = None, host: str = "127.0.0.1", port: int = 5000, workers: int = 2) -> int:
    """Run nginx and pygeoapi under gunicorn until stopped; returns the exit code."""
    settings = settings or get_settings()
    nginx = front.nginx_binary()  # before anything is written: a missing nginx is one line with the fix
    user = host_user.api_user()
    if user is None:
        logger.info("not root: the API's workers run as the calling user")
    config_path, openapi_path = _write(settings, host, port, user)
    run_dir = Path(tempfile.mkdtemp(prefix="sdi-serve-"))  # short: a socket path has 107 bytes at most
    procs: dict[str, subprocess.Popen] = {}
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        if user:
            host_user.open_run_dir(user, run_dir)
        socket = run_dir / "api.sock"
        env = worker_env(settings, config_path, openapi_path, run_dir if user else None)
        public = public_url(settings, f"http://{'[' + host + ']' if ':' in host else host}:{port}")  # SDI_PUBLIC_URL
        extra = services.available(services.ServiceContext(settings, run_dir, public, user, env["SDI_DATABASE_URL"]))
        nginx_conf = front.write_config(
            settings.home_abs / "front",
            host=host,
            port=port,
            upstream=socket,
            run_dir=run_dir,
            static_dir=_static_dir(config_path),
            timeout=settings.request_timeout,
            user=user,
            services="\n".join(s.nginx for s in extra),
        )
        front.check(nginx, nginx_conf)
        procs["gunicorn"] = _popen(
            _gunicorn_cmd(socket, workers, settings, user),
            env=env,
            cwd=run_dir,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for svc in extra:
            svc_env = {**env, **svc.env} if svc.as_user else {**os.environ, **svc.env}
            procs[svc.name] = _popen(
                svc.command,
                env=svc_env,
                cwd=svc.cwd or run_dir,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                user=user.uid if (user and svc.as_user) else None,
                group=user.gid if (user and svc.as_user) else None,
            )
        procs["nginx"] = _popen(front.start_cmd(nginx, nginx_conf), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        streams = [
            (procs["gunicorn"].stdout, sys.stdout),
            (procs["gunicorn"].stderr, sys.stderr),
            (procs["nginx"].stderr, sys.stderr),
            *((procs[s.name].stdout, sys.stderr) for s in extra),
        ]
        for stream, out in streams:
            _pump(stream, out)  # threads only now: preexec_fn above is unsafe once threads run
        return _watch(procs, settings, host, port, user, [s.on_change for s in extra if s.on_change])
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        _stop(procs)
        shutil.rmtree(run_dir, ignore_errors=True)


def worker_env(settings: Settings, config_path: Path, openapi_path: Path, home: Path | None) -> dict[str, str]:
    """The workers' environment: the reader's URL and where things are; no other credential at all."""
    reader = settings.reader_database_url or _reader_url(settings)
    owner: Any = psycopg.conninfo.conninfo_to_dict(database_url(settings, start=False)).get("password")  # text
    env = {k: v for k, v in os.environ.items() if k not in _SECRET_ENV and not (owner and owner in v)}
    env.update(
        PYGEOAPI_CONFIG=str(config_path),
        PYGEOAPI_OPENAPI=str(openapi_path),
        SDI_DATABASE_URL=reader,
        SDI_HOME=str(settings.home_abs),
        SDI_RASTER_DIR=str(settings.raster_dir_abs),
        SDI_CONFIG_DIR=str(settings.config_dir.resolve()),
        SDI_STYLES_DIR=str(settings.styles_dir.resolve()),
    )
    if home:  # root's home is not the workers'; caches (pyproj, matplotlib) go to their own folder
        env.update(HOME=str(home), USER=host_user.API_USER, LOGNAME=host_user.API_USER)
    return env


def _write(settings: Settings, host: str, port: int, user: HostUser | None) -> tuple[Path, Path]:
    paths = write_config(settings, host, port)
    if user:
        host_user.open_to(user, paths[0].parent, settings.raster_dir_abs)
    return paths


def _gunicorn_cmd(socket: Path, workers: int, settings: Settings, user: HostUser | None) -> list[str]:
    cmd = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"unix:{socket}",
        "--workers",
        str(workers),
        "--timeout",
        str(settings.request_timeout),
        "--no-control-socket",
        "--access-logfile",
        "-",
        "--access-logformat",
        _ACCESS_FORMAT,
        "--logger-class",
        "sdi.server.logs.RedactingLogger",
    ]
    if user:  # the master stays root to bind and reload; the workers, which parse requests, do not
        cmd += ["--user", str(user.uid), "--group", str(user.gid)]
    return [*cmd, "sdi.server.wsgi:app"]


def _static_dir(config_path: Path) -> Path:
    """pygeoapi's static folder, as its Flask app resolves it (server.templates.static, else its own)."""
    import pygeoapi

    static = (yaml.safe_load(config_path.read_text(encoding="utf-8"))["server"].get("templates") or {}).get("static")
    return Path(pygeoapi.__file__).parent / (static or "static")  # an absolute `static` replaces the base


def _popen(cmd: list[str], **kwargs) -> subprocess.Popen:
    try:
        return subprocess.Popen(cmd, preexec_fn=_die_with_parent, **kwargs)  # noqa: PLW1509 -- called before any thread starts
    except OSError as exc:
        raise ServeError(f"cannot start {Path(cmd[0]).name}: {exc}", "run `make setup`") from None


def _die_with_parent() -> None:
    # If sdi serve is killed outright (SIGKILL), its children get SIGTERM instead of living on as orphans.
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def _pump(stream, out) -> None:
    """Pass a child's output on, line by line, with secrets masked (a second wall behind RedactingLogger)."""

    def run() -> None:
        for line in iter(stream.readline, b""):
            out.write(redact(line.decode("utf-8", "replace")))
            out.flush()

    threading.Thread(target=run, daemon=True).start()


def _reader_url(settings: Settings) -> str:
    with open_catalogue(settings) as conn:
        url = roles.ensure_reader(conn, database_url(settings))
    # The embedded cluster's streaming replicas take the reads, the primary only when none answers.
    return url if settings.database_url else replicas.reader_url(url, Cluster(settings))


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def _watch(
    procs: dict[str, subprocess.Popen],
    settings: Settings,
    host: str,
    port: int,
    user: HostUser | None,
    on_change: list | None = None,
) -> int:
    """Until one child dies: when a load, rollback or new theme changes the catalogue, reload gunicorn.

    gunicorn's HUP starts fresh workers, which read the regenerated configuration, and lets the old
    ones finish their requests: no request is dropped and nobody restarts anything.
    """
    seen, next_check = _state(settings), time.monotonic() + _POLL_SECONDS
    failed: str | None = None  # the catalogue state whose configuration failed: logged once, retried each poll
    while True:
        for name, proc in procs.items():
            if proc.poll() is not None:
                raise ServeError(
                    f"{name} stopped (exit {proc.returncode}), so sdi serve stopped too",
                    "see its message above (a port in use? choose another --port)",
                )
        time.sleep(0.25)
        if time.monotonic() < next_check:
            continue
        next_check = time.monotonic() + _POLL_SECONDS
        now = _state(settings)
        if now == seen or now is None:
            continue
        if now != failed:
            # the state is "<catalogue>:<download files written>": say which of the two moved
            moved = now.rsplit(":", 1)[0] != (seen or "").rsplit(":", 1)[0]
            what = "the catalogue changed" if moved else "download files written"
            logger.warning("%s: regenerating the configuration and reloading the server", what)
        try:
            _write(settings, host, port, user)
        except Exception as exc:  # noqa: BLE001 -- whatever a catalogue row holds, the API keeps serving what it has
            if now != failed:
                logger.error(
                    "the new configuration failed, still serving the previous one (tried again every %d s): %s",
                    _POLL_SECONDS,
                    first_line(exc),
                )
            failed = now
            continue  # `seen` unchanged: the next poll tries again, a passing fault does not freeze the API
        seen = now
        procs["gunicorn"].send_signal(signal.SIGHUP)
        for hook in on_change or []:
            try:
                hook()
            except Exception as exc:  # noqa: BLE001 -- a service's refresh failing must not stop the API
                logger.error("a service could not follow the catalogue change: %s", first_line(exc))


def _stop(procs: dict[str, subprocess.Popen]) -> None:
    """nginx first (no new requests), then gunicorn, which lets its workers finish; killed after 30 s."""
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + _STOP_SECONDS
    for proc in procs.values():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _state(settings: Settings) -> str | None:
    """The catalogue's fingerprint and the bulk files' writer's progress: files written aside get links then."""
    fingerprint = _fingerprint(settings)
    # progress() also starts the writer of the download files: here, after the children's forks (sdi.server.downloads)
    return None if fingerprint is None else f"{fingerprint}:{downloads.progress()}"


def _fingerprint(settings: Settings) -> str | None:
    """What the published configuration depends on: every current load, and every current analysis run.

    An analysis run (sdi.analysis, in its own process) publishes by committing: a city's first run makes a new
    collection (access_<unit>), and a later one may empty or fill a view. Its run ids are part of the
    fingerprint, so the API, the WMS projects and /mapa follow within one poll without a load.
    """
    try:
        with psycopg.connect(database_url(settings, start=False), connect_timeout=5) as conn:
            loads = scalar(
                conn.execute(
                    "SELECT md5(coalesce(string_agg(city || theme || load_id, ','"
                    " ORDER BY city, theme), '')) FROM sdi.layers"
                )
            )
            if not scalar(conn.execute("SELECT to_regclass('analysis.current_runs')")):
                return loads  # a catalogue from before migration 0012
            return f"{loads}:" + scalar(
                conn.execute(
                    "SELECT md5(coalesce(string_agg(run_id::text, ',' ORDER BY run_id), '')) FROM analysis.current_runs"
                )
            )
    except (psycopg.Error, SdiError):
        return None  # the database is briefly away: keep serving what we have
