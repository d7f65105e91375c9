"""The embedded cluster and the catalogue: lifecycle through the CLI, isolation, migrations."""

from __future__ import annotations

import os

import psycopg

from sdi.core.catalogue import migrate
from sdi.core.sample import SAMPLE_CITY

from conftest import run_sdi


def _home(tmp_path, name):
    home = tmp_path / name
    home.mkdir(mode=0o700)
    return {"SDI_HOME": str(home)}


def test_start_stop_start_keeps_data(tmp_path, sample):
    env = _home(tmp_path, "a")
    try:
        assert run_sdi("db", "start", env=env).returncode == 0
        loaded = run_sdi("load", str(sample["roads"]), "--city", SAMPLE_CITY, "--theme", "roads", env=env)
        assert loaded.returncode == 0, loaded.stderr
        assert run_sdi("db", "stop", env=env).stdout.strip() == "stopped"
        assert run_sdi("db", "status", env=env).returncode == 3
        assert run_sdi("db", "start", env=env).returncode == 0
        assert run_sdi("db", "status", env=env).returncode == 0
        url = run_sdi("db", "url", env=env).stdout.strip()
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT count(*) FROM data.roads WHERE city = %s", [SAMPLE_CITY]).fetchone()[0] == 9
        listing = run_sdi("layers", env=env).stdout
        assert "roads" in listing and SAMPLE_CITY in listing
    finally:
        run_sdi("db", "destroy", "--yes", env=env)


def test_two_homes_are_two_independent_clusters(tmp_path, sample):
    env_a, env_b = _home(tmp_path, "a"), _home(tmp_path, "b")
    try:
        for env in (env_a, env_b):
            assert run_sdi("db", "start", env=env).returncode == 0
        url_a = run_sdi("db", "url", env=env_a).stdout.strip()
        url_b = run_sdi("db", "url", env=env_b).stdout.strip()
        assert url_a != url_b
        assert (
            run_sdi(
                "load", str(sample["buildings"]), "--city", SAMPLE_CITY, "--theme", "buildings", env=env_a
            ).returncode
            == 0
        )
        with psycopg.connect(url_a) as a, psycopg.connect(url_b) as b:
            assert a.execute("SELECT count(*) FROM sdi.layers").fetchone()[0] == 1
            assert b.execute("SELECT count(*) FROM sdi.layers").fetchone()[0] == 0
    finally:
        for env in (env_a, env_b):
            run_sdi("db", "destroy", "--yes", env=env)


def test_external_database_url_starts_nothing(tmp_path, db_url):
    env = {**_home(tmp_path, "ext"), "SDI_DATABASE_URL": db_url}
    started = run_sdi("db", "start", env=env)
    assert started.returncode == 0
    assert "SDI_DATABASE_URL is set" in started.stderr
    assert not (tmp_path / "ext" / "cluster.json").exists()
    assert run_sdi("db", "url", env=env).stdout.strip() == db_url


def test_init_is_idempotent(db_url, tmp_path):
    env = {**_home(tmp_path, "i"), "SDI_DATABASE_URL": db_url}
    first, second = run_sdi("init", env=env), run_sdi("init", env=env)
    assert first.returncode == second.returncode == 0
    assert "up to date" in second.stdout
    with psycopg.connect(db_url) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM sdi.schema_migrations ORDER BY version")]
        assert versions and versions == sorted(set(versions))
        assert migrate(conn) == []


def test_db_url_before_any_start_says_what_to_do(tmp_path):
    result = run_sdi("db", "url", env=_home(tmp_path, "never"))
    assert result.returncode != 0
    assert "sdi db start" in result.stderr
    assert "Traceback" not in result.stderr


def test_postgres_cannot_be_reached_through_a_public_address(server_url):
    info = psycopg.conninfo.conninfo_to_dict(server_url)
    if os.environ.get("SDI_TEST_DATABASE_URL"):
        return  # an external server's listen addresses are its administrator's business
    assert info["host"] == "127.0.0.1"
    with psycopg.connect(server_url) as conn:
        assert conn.execute("SHOW listen_addresses").fetchone()[0] == "127.0.0.1"
