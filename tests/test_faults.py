"""Faults lose nothing: a loader killed during the index build, the attach or the swap, PostgreSQL stopped
mid-load, four cities at once.

(A loader killed during COPY and two loads of one layer at once are in test_loader_warts.py.)
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time

import geopandas as gpd
import numpy as np
import psycopg
import pytest
import requests

from sdi.core.catalogue import migrate
from sdi.core.cluster import Cluster
from sdi.core.settings import Settings
from sdi.pipeline import run_load

from conftest import SDI, running_api

CITY = "1465011"


def _points(path, n: int, name: str, seed: int = 1):
    rng = np.random.default_rng(seed)
    frame = gpd.GeoDataFrame(
        {"name": [name] * n, "service_type": ["library"] * n},
        geometry=gpd.points_from_xy(rng.uniform(630_000, 645_000, n), rng.uniform(480_000, 495_000, n)),
        crs=2180,
    )
    frame.to_file(path)
    return path


def _state(db_url: str) -> tuple:
    """Everything a reader could see of the theme: every row, and the catalogue's loads and layers."""
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT fid, city, name, ST_AsEWKB(geom) FROM data.public_services ORDER BY fid").fetchall()
        loads = conn.execute("SELECT load_id, city, feature_count FROM sdi.loads ORDER BY load_id").fetchall()
        layers = conn.execute("SELECT city, theme, load_id FROM sdi.layers ORDER BY 1, 2").fetchall()
    return rows, loads, layers


def _wait_for(db_url: str, proc: subprocess.Popen, pattern: str, seconds: float = 120) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and proc.poll() is None:
            if conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE %s AND state = 'active'", [pattern]
            ).fetchone()[0]:
                return
            time.sleep(0.02)
    pytest.fail(f"the load ended before it reached {pattern!r}")


def test_a_loader_killed_during_the_swap_leaves_the_previous_version(settings, db_url, tmp_path):
    run_load(
        _points(tmp_path / "small.gpkg", 50, "Biblioteka A"), city=CITY, theme="public_services", settings=settings
    )
    before = _state(db_url)
    big = _points(tmp_path / "big.gpkg", 20_000, "Biblioteka B")
    env = {**os.environ, "SDI_DATABASE_URL": db_url, "SDI_HOME": str(tmp_path / "home")}
    with psycopg.connect(db_url) as holder:
        # Hold the catalogue's layers table, so that the loader stops inside the swap: its rows are all in
        # history, uncommitted, and it waits to switch the city's current version.
        holder.execute("LOCK TABLE sdi.layers IN SHARE MODE")
        proc = subprocess.Popen(
            [SDI, "load", str(big), "--city", CITY, "--theme", "public_services"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for(db_url, proc, "SELECT sdi.set_current%")  # the switch goes through the catalogue's function
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    time.sleep(0.5)  # the server notices the dead client and rolls its transaction back
    assert _state(db_url) == before  # row for row, and the catalogue too
    again = run_load(tmp_path / "small.gpkg", city=CITY, theme="public_services", settings=settings)
    assert again.features_loaded == 50


def _kill_when(db_url: str, proc: subprocess.Popen, query: str, seconds: float = 120) -> None:
    """SIGKILL the loader as soon as `query` (returning a count) sees it at the step to interrupt."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and proc.poll() is None:
            if conn.execute(query).fetchone()[0]:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                return
            time.sleep(0.01)
    pytest.fail("the load ended before it reached the step to interrupt")


def _no_stray_tables(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:  # the load's own table died with its transaction
        assert conn.execute(
            "SELECT count(*) FROM pg_class WHERE relname LIKE 'public_services#%%' AND relkind = 'r'"
        ).fetchone()[0] == len(_state(db_url)[1])


def test_a_loader_killed_during_the_index_build_leaves_the_previous_version(settings, db_url, tmp_path):
    run_load(
        _points(tmp_path / "small.gpkg", 50, "Biblioteka A"), city=CITY, theme="public_services", settings=settings
    )
    before = _state(db_url)
    big = _points(tmp_path / "big.gpkg", 200_000, "Biblioteka B")
    env = {**os.environ, "SDI_DATABASE_URL": db_url, "SDI_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen(
        [SDI, "load", str(big), "--city", CITY, "--theme", "public_services"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # the key or the GiST index of the load's own table being built, after its rows are all in
    # (by the backend: the table itself, uncommitted, is invisible to other sessions)
    _kill_when(
        db_url,
        proc,
        "SELECT count(*) FROM pg_stat_progress_create_index p JOIN pg_stat_activity a"
        " USING (pid) WHERE a.query LIKE 'SELECT sdi.close_load_table%'",
    )
    time.sleep(0.5)
    assert _state(db_url) == before
    _no_stray_tables(db_url)
    report = run_load(tmp_path / "small.gpkg", city=CITY, theme="public_services", settings=settings)
    assert report.features_loaded == 50


def test_a_loader_killed_during_the_attach_leaves_the_previous_version(settings, db_url, tmp_path):
    run_load(
        _points(tmp_path / "small.gpkg", 50, "Biblioteka A"), city=CITY, theme="public_services", settings=settings
    )
    before = _state(db_url)
    big = _points(tmp_path / "big.gpkg", 20_000, "Biblioteka B")
    env = {**os.environ, "SDI_DATABASE_URL": db_url, "SDI_HOME": str(tmp_path / "home")}
    with psycopg.connect(db_url) as holder:
        # ATTACH PARTITION needs SHARE UPDATE EXCLUSIVE on the parent: holding it stops the loader right there,
        # its rows copied and indexed, while readers (ACCESS SHARE) are not blocked by either of us.
        holder.execute("LOCK TABLE history.public_services IN SHARE UPDATE EXCLUSIVE MODE")
        proc = subprocess.Popen(
            [SDI, "load", str(big), "--city", CITY, "--theme", "public_services"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _kill_when(
            db_url,
            proc,
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT sdi.close_load_table%'"
            " AND wait_event_type = 'Lock'",
        )
        with psycopg.connect(db_url) as reader:  # a reader meanwhile answers with the previous version
            assert reader.execute("SELECT count(*) FROM data.public_services").fetchone()[0] == 50
    time.sleep(0.5)
    assert _state(db_url) == before
    _no_stray_tables(db_url)
    report = run_load(tmp_path / "small.gpkg", city=CITY, theme="public_services", settings=settings)
    assert report.features_loaded == 50


def test_postgresql_stopped_mid_load_is_a_clear_error_and_nothing_is_half_loaded(tmp_path):
    home = tmp_path / "own"
    settings = Settings(home=home)
    cluster = Cluster(settings)
    try:
        url = cluster.start().url()
        with psycopg.connect(url) as conn:
            migrate(conn)
        run_load(
            _points(tmp_path / "small.gpkg", 50, "Biblioteka A"), city=CITY, theme="public_services", settings=settings
        )
        before = _state(url)
        big = _points(tmp_path / "big.gpkg", 300_000, "Biblioteka B")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SDI_")}
        proc = subprocess.Popen(
            [SDI, "load", str(big), "--city", CITY, "--theme", "public_services"],
            env={**env, "SDI_HOME": str(home)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        _wait_for(url, proc, 'COPY "history"."public_services#%')  # the load's own table
        cluster.stop()
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode != 0 and "Traceback" not in stderr
        assert len(stderr.strip().splitlines()) == 1 and "error" in stderr.lower(), stderr
        url = cluster.start().url()
        assert _state(url) == before  # the catalogue is consistent: no load row, no rows of the failed load
        again = run_load(tmp_path / "small.gpkg", city=CITY, theme="public_services", settings=settings)
        assert again.features_loaded == 50
    finally:
        cluster.destroy()


def test_four_cities_load_at_once_while_readers_read(settings, db_url, tmp_path):
    cities = ["1465011", "1261011", "0264011", "3064011"]
    for i, city in enumerate(cities):
        run_load(
            _points(tmp_path / f"first_{city}.gpkg", 20, f"Stara {city}", seed=i),
            city=city,
            theme="public_services",
            settings=settings,
        )
    files = {
        city: _points(tmp_path / f"new_{city}.gpkg", 60_000, f"Nowa {city}", seed=10 + i)
        for i, city in enumerate(cities)
    }
    with running_api(db_url, tmp_path / "api") as base:
        statuses, slowest, stop = [], [0.0], threading.Event()

        def read():
            while not stop.is_set():
                started = time.monotonic()
                r = requests.get(
                    f"{base}/collections/public_services/items",
                    params={"f": "json", "limit": 100, "city": cities[len(statuses) % 4]},
                    timeout=30,
                )
                slowest[0] = max(slowest[0], time.monotonic() - started)
                statuses.append(r.status_code)

        readers = [threading.Thread(target=read) for _ in range(2)]
        for t in readers:
            t.start()
        env = {**os.environ, "SDI_DATABASE_URL": db_url, "SDI_HOME": str(tmp_path / "home")}
        procs = [
            subprocess.Popen(
                [SDI, "load", str(path), "--city", city, "--theme", "public_services"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for city, path in files.items()
        ]
        results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
        stop.set()
        for t in readers:
            t.join()
    assert all(code == 0 for code, _ in results), results
    assert statuses and set(statuses) == {200}
    # Readers never wait for a load: MVCC serves them the previous version until the commit.
    assert slowest[0] < 10, f"a reader waited {slowest[0]:.1f} s"
    with psycopg.connect(db_url) as conn:
        counts = dict(conn.execute("SELECT city, count(*) FROM data.public_services GROUP BY city").fetchall())
    assert counts == {city: 60_000 for city in cities}
