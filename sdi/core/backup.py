"""Backups that restore: `sdi db backup DEST` and `sdi db restore SRC [--to TIME]`.

The embedded cluster is backed up with PostgreSQL's physical tools, because only they give point-in-time
recovery: `pg_basebackup` takes a consistent copy while loads and readers run (a load is one
transaction, so it is in the copy whole or not at all), and from then on the primary's archive_command
copies every finished WAL segment into DEST/wal. `restore` copies the base back, replays the archive up to
the end or to `--to TIME`, and promotes. An external database (SDI_DATABASE_URL) gets `pg_dump -Fc`
instead: its operator owns its WAL, and a dump is the portable, consistent copy a non-superuser can take.

    DEST/base/        pg_basebackup, plain format, with the WAL it needs (-X stream)
    DEST/wal/         the continuous archive (written by the postgres user)
    DEST/cluster.json the cluster's passwords (mode 600), so that a restored home works as before
    DEST/rasters/     the COG files at backup time (the catalogue names them relative to the raster folder)
    DEST/backup.json  what, when, and from which kind of database
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import shutil
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from sdi.core.cluster import Cluster, ClusterState
from sdi.core.cluster_setup import _free_port, _pg_bin, _user_can_enter
from sdi.core.db import one_row, scalar
from sdi.core.errors import ConfigError, DatabaseError
from sdi.core.settings import Settings

logger = logging.getLogger(__name__)

#: The primary archives nothing until a backup names a folder: WAL is then recycled, never piled up.
NO_ARCHIVE = "true"


def ensure_archive_command(state: ClusterState) -> None:
    """Give a cluster that has archive_mode on, but no archive_command yet, one that discards WAL."""
    if not state.admin_password:
        return
    with psycopg.connect(state.admin_url("postgres"), autocommit=True) as conn:
        if scalar(conn.execute("SELECT current_setting('archive_command')")) == "":
            conn.execute(f"ALTER SYSTEM SET archive_command = {_literal(NO_ARCHIVE)}")
            conn.execute("SELECT pg_reload_conf()")


def backup(settings: Settings, dest: Path) -> dict[str, Any]:
    """Back up the database in use, its rasters and the cluster's state into DEST (new or empty)."""
    dest = dest.expanduser().resolve()
    if dest.exists() and any(dest.iterdir()):
        raise ConfigError(f"{dest} is not empty", "back up into a new or empty folder")
    dest.mkdir(parents=True, exist_ok=True)
    started = _now()
    if settings.database_url:
        kind = "dump"
        _dump(settings, settings.database_url, dest)
    else:
        kind = "embedded"
        _base_backup(Cluster(settings), dest)
    if settings.raster_dir_abs.is_dir():
        shutil.copytree(settings.raster_dir_abs, dest / "rasters")
    info = {"kind": kind, "started": started, "finished": _now()}
    (dest / "backup.json").write_text(json.dumps(info, indent=2))
    return info


def _base_backup(cluster: Cluster, dest: Path) -> None:
    state = cluster.start()
    if not state.admin_password:
        raise DatabaseError("this cluster has no admin login yet", "run `sdi db start` once, then back up")
    wal = dest / "wal"
    wal.mkdir()
    if state.os_user:
        shutil.chown(wal, user=state.os_user, group=state.os_user)
        if not _user_can_enter(state.os_user, wal):
            raise ConfigError(
                f"the {state.os_user} user cannot reach {wal} to archive WAL there",
                "back up into a folder whose parents it may enter (not a mode-700 one)",
            )
    if "%" in str(wal):
        raise ConfigError(f"{wal} holds a '%'", "choose a folder without '%' (PostgreSQL expands it)")
    # Archive first: every segment from the start of the base copy on must reach the archive.
    command = f"test ! -f {shlex.quote(str(wal))}/%f && cp %p {shlex.quote(str(wal))}/%f"
    with psycopg.connect(state.admin_url("postgres"), autocommit=True) as conn:
        conn.execute(f"ALTER SYSTEM SET archive_command = {_literal(command)}")
        conn.execute("SELECT pg_reload_conf()")
    cmd = [
        "pg_basebackup",
        "-h",
        "127.0.0.1",
        "-p",
        str(state.port),
        "-U",
        "sdi_admin",
        "-D",
        str(dest / "base"),
        "-X",
        "stream",
        "--checkpoint=fast",
        "--no-password",
    ]
    cluster._run(state, cmd, env={"PGPASSWORD": state.admin_password}, as_user=False)
    state_copy = dest / "cluster.json"
    state_copy.write_text(cluster.state_file.read_text())
    state_copy.chmod(0o600)
    _archive_now(state)


def _archive_now(state: ClusterState, timeout: float = 20.0) -> None:
    """Close the current WAL segment and wait until the archiver has it: the backup is usable on return."""
    with psycopg.connect(state.admin_url("postgres"), autocommit=True) as conn:
        segment = scalar(conn.execute("SELECT pg_walfile_name(pg_switch_wal())"))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            last, failed = one_row(conn.execute("SELECT last_archived_wal, last_failed_wal FROM pg_stat_archiver"))
            if last and last >= segment:
                return
            time.sleep(0.1)
    raise DatabaseError(
        f"WAL segment {segment} did not reach the archive (last failed: {failed})", f"see {state.data_dir}/server.log"
    )


def archive_now(settings: Settings) -> None:
    """Push the current WAL segment into the archive (what archive_timeout would do later)."""
    _archive_now(Cluster(settings).start())


def restore(settings: Settings, src: Path, to: datetime | None = None) -> dict[str, Any]:
    """Bring a backup back: into an empty SDI_HOME (embedded) or into the empty SDI_DATABASE_URL (dump)."""
    src = src.expanduser().resolve()
    try:
        info: dict[str, Any] = json.loads((src / "backup.json").read_text())
    except (OSError, ValueError):
        raise ConfigError(
            f"{src} is not an sdi backup (no backup.json)", "name the folder `sdi db backup` wrote"
        ) from None
    if info["kind"] == "dump":
        if to is not None:
            raise ConfigError("a dump restores to the moment it was taken", "drop --to")
        _restore_dump(settings, src)
    else:
        _restore_base(Cluster(settings), src, to)
    if (src / "rasters").is_dir():
        shutil.copytree(src / "rasters", settings.raster_dir_abs, dirs_exist_ok=True)
    return info


def _restore_base(cluster: Cluster, src: Path, to: datetime | None) -> None:
    if cluster.state_file.exists():
        raise ConfigError(
            f"{cluster.home} already has a cluster", "restore into an empty SDI_HOME, or `sdi db destroy` first"
        )
    saved = json.loads((src / "cluster.json").read_text())
    os_user = "postgres" if os.geteuid() == 0 else None  # as Cluster._create decides
    cluster.home.mkdir(parents=True, exist_ok=True)
    data_dir = cluster._data_dir_for(os_user)
    shutil.rmtree(data_dir)
    shutil.copytree(src / "base", data_dir, symlinks=True)
    wal = src / "wal"
    settings = [
        f"restore_command = {_literal('cp ' + shlex.quote(str(wal)) + '/%f %p')}",
        "recovery_target_action = 'promote'",
        f"archive_command = {_literal(NO_ARCHIVE)}",
    ]
    if to is not None:
        settings.append(f"recovery_target_time = {_literal(to.isoformat())}")
    with (data_dir / "postgresql.auto.conf").open("a") as conf:
        conf.write("\n# sdi db restore\n" + "\n".join(settings) + "\n")
    (data_dir / "recovery.signal").touch()
    if os_user:
        shutil.chown(data_dir, user=os_user, group=os_user)
        for path in data_dir.rglob("*"):
            shutil.chown(path, user=os_user, group=os_user)
        data_dir.chmod(0o700)
    state = ClusterState(
        str(data_dir),
        _free_port(),
        saved["password"],
        os_user,
        saved.get("admin_password"),
        replication_password=saved.get("replication_password"),
    )
    cluster._write_state(state)
    cluster.start_server(state)
    _wait_promoted(state, data_dir)
    with psycopg.connect(state.admin_url("postgres"), autocommit=True) as conn:
        for name in ("restore_command", "recovery_target_action", "recovery_target_time"):
            conn.execute(f"ALTER SYSTEM RESET {name}")
        conn.execute("SELECT pg_reload_conf()")


def _wait_promoted(state: ClusterState, data_dir: Path, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with psycopg.connect(state.admin_url("postgres"), autocommit=True, connect_timeout=3) as conn:
                if not scalar(conn.execute("SELECT pg_is_in_recovery()")):
                    return
        except psycopg.OperationalError:
            log = (data_dir / "server.log").read_text(errors="replace") if (data_dir / "server.log").exists() else ""
            fatal = [line for line in log.splitlines() if "FATAL" in line]
            if fatal:
                raise DatabaseError(
                    f"the restore failed: {fatal[-1].split('FATAL:', 1)[-1].strip()}",
                    "choose a --to time between the backup and the last archived change",
                ) from None
        time.sleep(0.2)
    raise DatabaseError("the restored cluster did not finish recovery in time", f"see {data_dir}/server.log")


def _dump(settings: Settings, url: str, dest: Path) -> None:
    params = conninfo_to_dict(url)
    password = params.pop("password", None)
    cmd = [str(_pg_bin(settings) / "pg_dump"), "-Fc", "-f", str(dest / "sdi.dump"), "-d", make_conninfo("", **params)]
    _client(cmd, password)


def _restore_dump(settings: Settings, src: Path) -> None:
    if not settings.database_url:
        raise ConfigError("a dump restores into an external database", "set SDI_DATABASE_URL to a new, empty database")
    params = conninfo_to_dict(settings.database_url)
    password = params.pop("password", None)
    cmd = [
        str(_pg_bin(settings) / "pg_restore"),
        "--no-owner",
        "--exit-on-error",
        "--single-transaction",
        "-d",
        make_conninfo("", **params),
        str(src / "sdi.dump"),
    ]
    _client(cmd, password)


def _client(cmd: list[str], password: object) -> None:
    env = {**os.environ, **({"PGPASSWORD": str(password)} if password else {})}  # libpq parsed it as text
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        raise DatabaseError(f"{Path(cmd[0]).name} failed: {last}", "check the database URL and the folder")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _now() -> str:
    return datetime.now(UTC).isoformat()
