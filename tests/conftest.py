"""Test fixtures: a real, throw-away PostGIS for the run, and a fresh database for each test.

With SDI_TEST_DATABASE_URL set, that server is used (its role needs CREATEDB; SDI_TEST_ADMIN_URL may name
a superuser for PostGIS and the role functions). Otherwise the run starts its own embedded cluster in a
mode-700 temporary folder, as a user's `mktemp -d` would be. If PostGIS cannot be started the run fails:
nothing here ever skips for want of a database.

Every test's `settings.database_url` is the OWNER's URL, as `sdi` uses it: neither superuser nor
CREATEROLE, so the suite runs under least privilege. Databases are created and dropped (WITH FORCE, which
terminates other logins' backends) by the admin, whose URL the `admin_url` fixture gives.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
import requests

from sdi.core.catalogue import migrate
from sdi.core.cluster import Cluster
from sdi.core.cluster_setup import prepare_database
from sdi.core.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
SDI = str(Path(sys.executable).with_name("sdi"))
_counter = itertools.count()
# The superuser's URL of the run's server (the owner's own URL on an external server without one).
_ADMIN: dict[str, str] = {}


@pytest.fixture(scope="session", autouse=True)
def shared_data_untouched():
    """The real files are read, never written: a reader that leaves a .gfs beside a GML (GDAL's default) fails here."""
    before = {p for p in SHARED_DATA.rglob("*")} if SHARED_DATA.is_dir() else set()
    yield
    added = sorted(str(p) for p in (SHARED_DATA.rglob("*") if SHARED_DATA.is_dir() else ()) if p not in before)
    assert not added, f"the tests wrote into ../shared/data: {added} (open GML with WRITE_GFS=NO)"


@pytest.fixture(scope="session")
def server_url(tmp_path_factory) -> str:
    """The owner's URL of a PostGIS server (its sdi database) for the whole run."""
    url = os.environ.get("SDI_TEST_DATABASE_URL")
    admin = os.environ.get("SDI_TEST_ADMIN_URL") or url
    cluster = None
    if not url:
        home = tmp_path_factory.mktemp("sdi_home")
        os.chmod(home, 0o700)
        cluster = Cluster(Settings(home=home))
        state = cluster.start()
        url, admin = state.url(), state.admin_url()
    _ADMIN["url"] = admin
    owner = psycopg.conninfo.conninfo_to_dict(url)["user"]
    try:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("DROP DATABASE IF EXISTS sdi_template")
            conn.execute(f'CREATE DATABASE sdi_template OWNER "{owner}"')
        with psycopg.connect(_with_dbname(admin, "sdi_template"), autocommit=True) as conn:
            if admin != url:
                prepare_database(conn, owner)  # PostGIS and the admin's role functions, as in `sdi db start`
            else:
                conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
            version = conn.execute("SELECT postgis_full_version()").fetchone()[0]
            assert version.startswith("POSTGIS="), version
        with psycopg.connect(_with_dbname(url, "sdi_template")) as conn:
            migrate(conn)
        yield url
    finally:
        if cluster:  # also when setting up failed: never leave a cluster behind
            cluster.destroy()


@pytest.fixture(scope="session")
def admin_url(server_url) -> str:
    """The superuser's URL (maintenance database) of the run's server, for what the owner may not do."""
    return _ADMIN["url"]


@contextlib.contextmanager
def fresh_database(server_url: str):
    """A new database cloned from the migrated template, dropped afterwards; yields its URL."""
    name = f"sdi_test_{os.getpid()}_{next(_counter)}"
    admin = _ADMIN.get("url", server_url)
    owner = psycopg.conninfo.conninfo_to_dict(server_url)["user"]
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" OWNER "{owner}" TEMPLATE sdi_template')
    try:
        yield _with_dbname(server_url, name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def db_url(server_url) -> str:
    """A fresh, migrated database for one test."""
    with fresh_database(server_url) as url:
        yield url


@pytest.fixture
def settings(db_url, tmp_path) -> Settings:
    """Settings pointing at the test's own database and a temporary SDI_HOME."""
    return Settings(home=tmp_path / "home", database_url=db_url)


@pytest.fixture
def sample(tmp_path):
    """The demo's sample gmina, freshly generated: {theme: path}."""
    from sdi.core.sample import write_sample

    return write_sample(tmp_path / "sample")


@pytest.fixture
def shared_data() -> Path:
    """The real Polish files beside the checkout; tests that need them skip where they are absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is absent (it is present in CI)")
    return SHARED_DATA


def run_sdi(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the installed `sdi` script as a user would."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SDI_")}
    full_env.update(env or {})
    return subprocess.run([SDI, *args], env=full_env, capture_output=True, text=True, timeout=timeout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, proc: subprocess.Popen, seconds: float = 60, log: Path | None = None) -> None:
    """Poll until the server answers, failing early with its output if it died."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            output = log.read_text(errors="replace")[-5000:] if log else ""
            raise AssertionError(f"server exited with {proc.returncode}: {output}")
        try:
            # A worker's first request imports pygeoapi and reads the catalogue: on a busy
            # 2-core machine that can take a while, so a slow answer is waited for, not failed.
            if requests.get(url, timeout=15).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass
        time.sleep(0.3)
    raise AssertionError(f"server did not answer at {url} within {seconds} s")


@contextlib.contextmanager
def running_api(db_url: str, home: Path):
    """`sdi serve` (real pygeoapi under gunicorn) on a free port over the given database; yields its base URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SDI_")}
    env.update(SDI_DATABASE_URL=db_url, SDI_HOME=str(home))
    home.mkdir(parents=True, exist_ok=True)
    # The server's output goes to a file: a pipe nobody reads fills up with access-log lines after a
    # few thousand requests, and then gunicorn blocks on writing.
    log_path = home / "serve.log"
    for attempt in range(3):
        # The port is free when chosen but may be taken before gunicorn binds it: then try another.
        port = free_port()
        # A session of its own, so that teardown can stop sdi serve and gunicorn together.
        with open(log_path, "w") as log:
            proc = subprocess.Popen(
                [SDI, "serve", "--port", str(port), "--workers", "1"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_for_http(f"{base}/collections?f=json", proc, log=log_path)
            break
        except AssertionError:
            _stop_group(proc)
            if attempt == 2:
                raise
    try:
        yield base
    finally:
        _stop_group(proc)


def _stop_group(proc: subprocess.Popen) -> None:
    """Stop sdi serve as a service manager would (SIGTERM), then make sure nothing of it is left."""
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _with_dbname(url: str, dbname: str) -> str:
    return psycopg.conninfo.make_conninfo(url, dbname=dbname)


@contextlib.contextmanager
def sample_api(server_url: str, tmp: Path):
    """The sample gmina in a fresh database, served by `sdi serve`: yields (base URL, database URL)."""
    with fresh_database(server_url) as db_url:
        load_sample(tmp, db_url)
        with running_api(db_url, tmp / "home") as base:
            yield base, db_url


def load_sample(tmp: Path, db_url: str) -> Settings:
    """Load the demo's sample gmina into a database; returns settings for it with a home under tmp."""
    from sdi.core.sample import SAMPLE_CITY, write_sample
    from sdi.pipeline import run_load

    settings = Settings(home=tmp / "home", database_url=db_url)
    for theme, path in write_sample(tmp / "sample").items():
        run_load(path, city=SAMPLE_CITY, theme=theme, settings=settings)
    return settings
