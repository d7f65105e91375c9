"""The embedded PostGIS cluster under $SDI_HOME: its creation, start, stop and removal, and its state.

Without SDI_DATABASE_URL, sdi runs its own PostgreSQL: initdb once, then pg_ctl start/stop, listening on
127.0.0.1 on a free port. Its superuser is `sdi_admin`, and the owner `sdi` has least privilege (issue 16,
sdi.core.cluster_setup). Connections to whichever database is in use come from sdi.core.db.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from sdi.core.cluster_setup import (
    ADMIN_USER,
    DB_NAME,
    DB_USER,
    MAX_LOCKS_PER_TRANSACTION,
    ROOT_CLUSTERS,
    _free_port,
    _pg_bin,
    _port_free,
    _user_can_enter,
    ensure_owner,
    prepare_database,
)
from sdi.core.errors import DatabaseError
from sdi.core.settings import Settings, get_settings

logger = logging.getLogger(__name__)


@dataclass
class ClusterState:
    """What `cluster.json` in $SDI_HOME remembers about the embedded cluster."""

    data_dir: str
    port: int
    password: str
    os_user: str | None  # None: the server runs as the calling user
    admin_password: str | None = None  # None: a cluster of an older sdi, whose owner was the superuser
    replicas: list[dict[str, Any]] = field(default_factory=list)  # sdi.core.replicas: name, data_dir, port, slot
    replication_password: str | None = None  # the replicas' login (REPLICATION only)

    def url(self) -> str:
        return f"postgresql://{DB_USER}:{self.password}@127.0.0.1:{self.port}/{DB_NAME}"

    def admin_url(self, dbname: str = DB_NAME) -> str:
        return f"postgresql://{ADMIN_USER}:{self.admin_password}@127.0.0.1:{self.port}/{dbname}"


class Cluster:
    """The embedded cluster of one $SDI_HOME. Two homes are two independent clusters."""

    def __init__(self, settings: Settings | None = None):
        self.settings = settings or get_settings()
        self.home = self.settings.home_abs
        self.state_file = self.home / "cluster.json"

    # -- public commands -------------------------------------------------------------------
    def start(self) -> ClusterState:
        """Create the cluster on first use, then start it; a running cluster is left alone."""
        from sdi.core import backup, replicas  # they build on this module

        state = self._read_state() or self._create()
        if self.is_running(state):
            replicas.start_all(self, state)
            return state
        if not _port_free(state.port):
            state.port = _free_port()
            self._write_state(state)
        self.start_server(state)
        self._ensure_database(state)
        backup.ensure_archive_command(state)
        replicas.start_all(self, state)
        return state

    def start_server(self, state: ClusterState) -> None:
        """pg_ctl start with sdi's options (also for a restore, which must not touch roles until promoted)."""
        # WAL room for a load of millions of rows without a checkpoint every few seconds (each one makes the
        # next writes log whole pages again); buffers for the indexes of a national theme.
        opts = (
            f"-c listen_addresses=127.0.0.1 -p {state.port} -c unix_socket_directories=''"
            " -c max_wal_size=4GB -c shared_buffers=256MB -c maintenance_work_mem=256MB"
            # history is partitioned by load: a query the planner cannot prune (a catalogue check, prune,
            # a view read by SQL) locks every partition it plans, one lock slot each; the default 64
            # slots per connection run out at a few thousand versions kept across cities.
            f" -c max_locks_per_transaction={MAX_LOCKS_PER_TRANSACTION}"
            # archive_mode needs a restart, archive_command only a reload: `sdi db backup` sets the latter
            " -c archive_mode=on"
        )
        log = Path(state.data_dir) / "server.log"
        self._run(state, ["pg_ctl", "-D", state.data_dir, "-l", str(log), "-o", opts, "-w", "-t", "60", "start"])

    def stop(self) -> bool:
        """Stop the cluster (its replicas first) if it runs; the data stays for the next start."""
        from sdi.core import replicas

        state = self._read_state()
        if state is None:
            return False
        replicas.stop_all(self, state)
        if not self.is_running(state):
            return False
        self._run(state, ["pg_ctl", "-D", state.data_dir, "-m", "fast", "-w", "stop"])
        return True

    def destroy(self) -> None:
        """Stop the cluster and delete its files (used by tests and `sdi db destroy`)."""
        state = self._read_state()
        if state is None:
            return
        self.stop()
        for replica in state.replicas:
            shutil.rmtree(replica["data_dir"], ignore_errors=True)
        shutil.rmtree(state.data_dir, ignore_errors=True)
        self.state_file.unlink(missing_ok=True)
        link = self.home / "pgdata"
        if link.is_symlink():
            link.unlink()

    def is_running(self, state: ClusterState | None = None) -> bool:
        """True when pg_ctl reports a live server for this home."""
        state = state or self._read_state()
        if state is None or not Path(state.data_dir, "PG_VERSION").exists():
            return False
        return self._run(state, ["pg_ctl", "-D", state.data_dir, "status"], check=False) == 0

    def url(self) -> str | None:
        """The connection URL of this cluster's owner, or None before the first start."""
        state = self._read_state()
        return state.url() if state else None

    def admin_url(self, dbname: str = DB_NAME) -> str | None:
        """The superuser's URL (for tests and maintenance), or None before the first start."""
        state = self._read_state()
        return state.admin_url(dbname) if state and state.admin_password else None

    # -- creation --------------------------------------------------------------------------
    def _create(self) -> ClusterState:
        self.home.mkdir(parents=True, exist_ok=True)
        os_user = "postgres" if os.geteuid() == 0 else None
        data_dir = self._data_dir_for(os_user)
        admin_password = secrets.token_urlsafe(24)
        state = ClusterState(
            str(data_dir), _free_port(), secrets.token_urlsafe(24), os_user, admin_password=admin_password
        )
        with tempfile.NamedTemporaryFile("w", delete=False, dir=data_dir.parent) as pw:
            pw.write(admin_password)
        try:
            if os_user:
                shutil.chown(pw.name, user=os_user)
            # The bootstrap superuser is the admin; the owner `sdi` is made by _ensure_database, unprivileged.
            cmd = [
                "initdb",
                "-D",
                str(data_dir),
                "-U",
                ADMIN_USER,
                "--pwfile",
                pw.name,
                "-E",
                "UTF8",
                "--locale",
                "C.UTF-8",
                "--auth-host",
                "scram-sha-256",
                "--auth-local",
                "peer",
            ]
            self._run(state, cmd)
        finally:
            os.unlink(pw.name)
        self._write_state(state)
        logger.info("created the embedded PostGIS cluster in %s", data_dir)
        return state

    def _data_dir_for(self, os_user: str | None) -> Path:
        """Pick the cluster folder: $SDI_HOME/pgdata, or a root-only place linked from there."""
        inside = self.home / "pgdata"
        if os_user is None or _user_can_enter(os_user, self.home):
            target = inside
        else:
            # initdb refuses root, and postgres cannot pass a mode-700 folder such as pytest's tmp_path.
            digest = hashlib.sha256(str(self.home).encode()).hexdigest()[:16]
            target = ROOT_CLUSTERS / digest
            shutil.rmtree(target, ignore_errors=True)
            if inside.is_symlink():
                inside.unlink()
            inside.symlink_to(target)
        target.mkdir(parents=True, exist_ok=True, mode=0o700)
        if os_user:
            shutil.chown(target, user=os_user, group=os_user)
            if target.parent == ROOT_CLUSTERS:
                shutil.chown(ROOT_CLUSTERS, user=os_user, group=os_user)
        return target

    def _ensure_database(self, state: ClusterState) -> None:
        """As the admin: the unprivileged owner, its database with PostGIS, and the admin's role functions."""
        if state.admin_password is None:
            self._convert(state)
        with psycopg.connect(state.admin_url("postgres"), autocommit=True) as conn:
            ensure_owner(conn, DB_USER, state.password)
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone() is None:
                conn.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(DB_NAME), sql.Identifier(DB_USER))
                )
            conn.execute(
                sql.SQL("ALTER DATABASE {} OWNER TO {}").format(sql.Identifier(DB_NAME), sql.Identifier(DB_USER))
            )
        with psycopg.connect(state.admin_url(), autocommit=True) as conn:
            prepare_database(conn, DB_USER)

    def _convert(self, state: ClusterState) -> None:
        """A cluster of an older sdi, whose owner `sdi` is the superuser: make the admin, who then demotes it."""
        state.admin_password = secrets.token_urlsafe(24)
        with psycopg.connect(state.url().rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [ADMIN_USER]).fetchone()
            conn.execute(
                sql.SQL(("ALTER" if exists else "CREATE") + " ROLE {} SUPERUSER LOGIN PASSWORD {}").format(
                    sql.Identifier(ADMIN_USER), sql.Literal(state.admin_password)
                )
            )
        self._write_state(state)
        logger.info("made %s the superuser of the cluster; %s loses SUPERUSER", ADMIN_USER, DB_USER)

    # -- helpers ---------------------------------------------------------------------------
    def _run(
        self,
        state: ClusterState,
        cmd: list[str],
        check: bool = True,
        env: dict[str, str] | None = None,
        as_user: bool = True,
    ) -> int:
        binary = str(_pg_bin(self.settings) / cmd[0])
        full = [binary, *cmd[1:]]
        if state.os_user and as_user:
            full = ["runuser", "-u", state.os_user, "--", *full]
        # A file, not a pipe: the server inherits pg_ctl's descriptors and would hold a pipe open.
        with tempfile.TemporaryFile() as out:
            rc = subprocess.run(
                full,
                check=False,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd="/",
                env={**os.environ, **env} if env else None,
            ).returncode
            out.seek(0)
            text = out.read().decode(errors="replace").strip()
        if check and rc != 0:
            last = text.splitlines()[-1] if text else f"exit code {rc}"
            raise DatabaseError(f"{cmd[0]} failed: {last}", f"see {state.data_dir}/server.log")
        return rc

    def _read_state(self) -> ClusterState | None:
        if not self.state_file.exists():
            return None
        return ClusterState(**json.loads(self.state_file.read_text()))

    def _write_state(self, state: ClusterState) -> None:
        self.state_file.write_text(json.dumps(asdict(state), indent=2))
        self.state_file.chmod(0o600)
