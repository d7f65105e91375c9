"""Backups that restore (issue 22): back up, load more, kill the cluster, restore to the end and to a moment
between the loads, and compare every theme's rows, checksums and versions with what they were then."""

from __future__ import annotations

import os
import signal
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from sdi.core.cluster import Cluster
from sdi.core.sample import SAMPLE_CITY, write_sample, write_sample_rasters
from sdi.core.settings import Settings

from conftest import run_sdi

THEMES = ("roads", "buildings", "public_services")


def _snapshot(url: str) -> dict:
    """Every theme's row count and content checksum, and the catalogue's versions."""
    with psycopg.connect(url) as conn:
        out = {}
        for theme in THEMES:
            out[theme] = conn.execute(
                f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY fid), '')) FROM data.{theme} t"
            ).fetchone()
        out["loads"] = conn.execute("SELECT array_agg(load_id ORDER BY load_id) FROM sdi.loads").fetchone()[0]
        out["layers"] = conn.execute(
            "SELECT array_agg(city || theme || load_id ORDER BY theme) FROM sdi.layers"
        ).fetchone()[0]
    return out


def _folder() -> Path:
    """A folder the postgres user can enter (it writes the WAL archive there), unlike pytest's mode-700 tmp."""
    path = Path(tempfile.mkdtemp(prefix="sdi-backup-", dir="/var/tmp"))
    path.chmod(0o755)
    return path


@pytest.fixture
def cluster_home(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    yield home
    Cluster(Settings(home=home)).destroy()


def test_backup_then_restore_to_the_end_and_to_a_moment_between_loads(cluster_home, tmp_path):
    env = {"SDI_HOME": str(cluster_home)}
    sample = write_sample(tmp_path / "sample")
    rasters = write_sample_rasters(tmp_path / "sample")

    def load(theme: str) -> None:
        done = run_sdi("load", str(sample[theme]), "--city", SAMPLE_CITY, "--theme", theme, env=env)
        assert done.returncode == 0, done.stderr

    assert run_sdi("db", "start", env=env).returncode == 0
    assert run_sdi("init", env=env).returncode == 0  # every theme's view exists from the start
    load("roads")
    raster = run_sdi("load-raster", str(rasters["elevation"]), "--city", SAMPLE_CITY, "--theme", "elevation", env=env)
    assert raster.returncode == 0, raster.stderr
    dest = _folder() / "b1"
    done = run_sdi("db", "backup", str(dest), env=env)
    assert done.returncode == 0, done.stderr
    url = Cluster(Settings(home=cluster_home)).url()
    at_backup = _snapshot(url)
    load("buildings")
    time.sleep(1.1)
    between = datetime.now(UTC)
    at_between = _snapshot(url)
    time.sleep(1.1)
    load("public_services")
    at_end = _snapshot(url)
    assert at_backup != at_between != at_end
    from sdi.core.backup import archive_now

    archive_now(Settings(home=cluster_home))  # what archive_timeout does later: the last change in the archive
    state = Cluster(Settings(home=cluster_home))._read_state()
    os.kill(int(Path(state.data_dir, "postmaster.pid").read_text().split()[0]), signal.SIGKILL)  # the disk is lost

    for name, to, expected in (("end", None, at_end), ("between", between, at_between)):
        home = tmp_path / f"restored-{name}"
        args = ["db", "restore", str(dest)] + (["--to", to.isoformat()] if to else [])
        try:
            done = run_sdi(*args, env={"SDI_HOME": str(home)}, timeout=300)
            assert done.returncode == 0, done.stderr
            restored = Cluster(Settings(home=home))
            assert _snapshot(restored.url()) == expected, name
            cogs = list((home / "rasters").rglob("*.tif"))
            assert cogs and all(c.stat().st_size > 0 for c in cogs)
            again = run_sdi("db", "start", env={"SDI_HOME": str(home)})  # a normal cluster from now on
            assert again.returncode == 0, again.stderr
        finally:
            Cluster(Settings(home=home)).destroy()
    assert at_backup["roads"][0] == 9 and at_backup["buildings"][0] == 0


def test_restore_refuses_a_home_with_a_cluster_and_a_folder_that_is_no_backup(cluster_home, tmp_path):
    env = {"SDI_HOME": str(cluster_home)}
    assert run_sdi("db", "start", env=env).returncode == 0
    not_backup = tmp_path / "empty"
    not_backup.mkdir()
    done = run_sdi("db", "restore", str(not_backup), env=env)
    assert done.returncode != 0 and "is not an sdi backup" in done.stderr and "Traceback" not in done.stderr
    bad_time = run_sdi("db", "restore", str(not_backup), "--to", "yesterday", env=env)
    assert bad_time.returncode != 0 and "ISO 8601" in bad_time.stderr
