"""Streaming replicas of the embedded cluster, and the multi-host reader URL that spreads reads over them.

PostgreSQL's own physical replication does the work: `pg_basebackup -R` copies the primary and writes
its `primary_conninfo`, a replication slot per replica keeps the WAL a stopped replica still needs, and
libpq's multi-host URLs (`target_session_attrs=prefer-standby`, `load_balance_hosts=random`, libpq 16+)
pick a live standby per connection, falling back to the primary when none answers. No proxy of our own.

Each replica has its own folder beside the primary's and its own port on 127.0.0.1; cluster.json lists
them, and `sdi db start/stop` start and stop them with the primary. Roles (the reader's too) are
cluster-wide and replicate with everything else, so a replica serves the same logins as the primary.
"""

from __future__ import annotations

import logging
import re
import secrets
import shutil
import time
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from sdi.core.cluster import Cluster, ClusterState
from sdi.core.cluster_setup import MAX_LOCKS_PER_TRANSACTION, _free_port, _port_free
from sdi.core.db import scalar
from sdi.core.errors import DatabaseError

logger = logging.getLogger(__name__)

REPLICATOR = "sdi_replicator"
_NAME = re.compile(r"^replica[0-9]{1,3}$")
# Reads wait at most this long on a standby whose replay conflicts with a TRUNCATE or DROP on the primary.
# max_locks_per_transaction: a hot standby refuses to start with less than its primary's (the same constant).
_STANDBY_OPTS = (
    "-c hot_standby=on -c hot_standby_feedback=on -c max_standby_streaming_delay=30s"
    f" -c max_locks_per_transaction={MAX_LOCKS_PER_TRANSACTION}"
)


def add(cluster: Cluster) -> dict[str, Any]:
    """Make a new streaming replica of the (started) embedded cluster, start it, and return its record."""
    state = cluster.start()
    replicas = list(state.replicas)
    name = next(f"replica{i}" for i in range(1, 1000) if f"replica{i}" not in {r["name"] for r in replicas})
    data_dir = Path(state.data_dir).with_name(f"{Path(state.data_dir).name}-{name}")
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(mode=0o700, parents=True)
    if state.os_user:
        shutil.chown(data_dir, user=state.os_user, group=state.os_user)
    password = _ensure_replicator(state)
    record: dict[str, Any] = {"name": name, "data_dir": str(data_dir), "port": _free_port(), "slot": f"sdi_{name}"}
    cmd = [
        "pg_basebackup",
        "-h",
        "127.0.0.1",
        "-p",
        str(state.port),
        "-U",
        REPLICATOR,
        "-D",
        str(data_dir),
        "-R",
        "-X",
        "stream",
        "-C",
        "-S",
        record["slot"],
        "--checkpoint=fast",
        "--no-password",
    ]
    try:
        cluster._run(state, cmd, env={"PGPASSWORD": password})
    except DatabaseError:
        shutil.rmtree(data_dir, ignore_errors=True)
        _drop_slot(state, record["slot"])
        raise
    state.replicas = [*replicas, record]
    cluster._write_state(state)
    start_one(cluster, state, record)
    logger.info("replica %s streams from the primary on port %s", name, record["port"])
    return record


def remove(cluster: Cluster, name: str) -> bool:
    """Stop a replica, delete its folder and its slot on the primary; False when there is none of that name."""
    state = cluster._read_state()
    record = next((r for r in (state.replicas if state else []) if r["name"] == name), None)
    if state is None or record is None:
        return False
    stop_one(cluster, state, record)
    shutil.rmtree(record["data_dir"], ignore_errors=True)
    state.replicas = [r for r in state.replicas if r["name"] != name]
    cluster._write_state(state)
    if cluster.is_running(state):
        _drop_slot(state, record["slot"])  # else the slot would keep every WAL segment for ever
    return True


def status(cluster: Cluster) -> list[dict[str, Any]]:
    """Every replica with whether it runs and how far (bytes of WAL) it is behind the primary."""
    state = cluster._read_state()
    if state is None:
        return []
    rows = []
    for record in state.replicas:
        running = _running(cluster, state, record)
        rows.append({**record, "running": running, "lag_bytes": _lag(state, record) if running else None})
    return rows


def start_all(cluster: Cluster, state: ClusterState) -> None:
    """Start every replica that is not running (called by Cluster.start after the primary).

    Returns once each has replayed what the primary had written: `pg_ctl -w` returns when a standby takes
    connections, but one that was killed may still be replaying, and readers would see old data meanwhile.
    """
    started = [start_one(cluster, state, record) for record in state.replicas]
    if any(started):
        wait_for_replay(state, timeout=60.0, ready=True)


def stop_all(cluster: Cluster, state: ClusterState) -> None:
    """Stop every running replica (called by Cluster.stop before the primary)."""
    for record in state.replicas:
        stop_one(cluster, state, record)


def start_one(cluster: Cluster, state: ClusterState, record: dict[str, Any]) -> bool:
    """Start one replica; False when it was running already."""
    if _running(cluster, state, record):
        return False
    if not _port_free(record["port"]):
        record["port"] = _free_port()
        cluster._write_state(state)
    opts = (
        f"-c listen_addresses=127.0.0.1 -p {record['port']} -c unix_socket_directories=''"
        f" -c cluster_name={record['name']} {_STANDBY_OPTS}"
    )
    log = Path(record["data_dir"]) / "server.log"
    # A replica that was killed outright (SIGKILL, a crash) leaves children that still hold its shared memory
    # for a moment after the postmaster is gone; its next start fails until they have noticed and exited.
    for attempt in range(5):
        try:
            cluster._run(
                state, ["pg_ctl", "-D", record["data_dir"], "-l", str(log), "-o", opts, "-w", "-t", "60", "start"]
            )
            return True
        except DatabaseError:
            time.sleep(1 + attempt)
    raise DatabaseError(f"replica {record['name']} did not start", f"see {log}")


def stop_one(cluster: Cluster, state: ClusterState, record: dict[str, Any]) -> None:
    if _running(cluster, state, record):
        cluster._run(state, ["pg_ctl", "-D", record["data_dir"], "-m", "fast", "-w", "stop"])


def hosts_url(url: str, state: ClusterState | None) -> str:
    """`url` (the primary's) turned into a multi-host URL: every replica first, the primary last.

    prefer-standby tries the standbys (in random order) before it settles for the primary, so reads go to
    a replica while one answers, and to the primary when none does, at connect time, with no middleware.
    """
    if not state or not state.replicas:
        return url
    params = conninfo_to_dict(url)
    hosts: list[tuple[Any, Any]] = [("127.0.0.1", r["port"]) for r in state.replicas]
    hosts += [(params.get("host", "127.0.0.1"), params.get("port", state.port))]
    params.update(
        host=",".join(h for h, _ in hosts),
        port=",".join(str(p) for _, p in hosts),
        target_session_attrs="prefer-standby",
        load_balance_hosts="random",
        connect_timeout="3",
    )
    return make_conninfo("", **{k: v for k, v in params.items() if v is not None})


def reader_url(url: str, cluster: Cluster, timeout: float = 10.0) -> str:
    """The reader's URL over the embedded replicas, once they have replayed the primary's latest change.

    The reader's password was just renewed on the primary: a standby that has not replayed it yet would
    refuse the login, and libpq does not try the next host after a failed authentication.
    """
    state = cluster._read_state()
    if not state or not state.replicas:
        return url
    wait_for_replay(state, timeout)
    return hosts_url(url, state)


def wait_for_replay(state: ClusterState, timeout: float = 10.0, ready: bool = False) -> None:
    """Wait until every running replica has replayed what the primary has written so far (bounded).

    With `ready`, a replica that refuses connections is waited for too (it was just started), not skipped.
    """
    with psycopg.connect(state.admin_url(), autocommit=True) as conn:
        target = scalar(conn.execute("SELECT pg_current_wal_lsn()"))
    deadline = time.monotonic() + timeout
    for record in state.replicas:
        while time.monotonic() < deadline:
            try:
                with psycopg.connect(_replica_admin_url(state, record), autocommit=True, connect_timeout=2) as conn:
                    done = scalar(conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target]))
            except psycopg.OperationalError:
                if ready:
                    time.sleep(0.1)
                    continue
                break  # a stopped replica: libpq will skip it
            if done:
                break
            time.sleep(0.02)


def _ensure_replicator(state: ClusterState) -> str:
    """The replication login (REPLICATION and nothing else), whose password cluster.json keeps."""
    if not state.replication_password:
        state.replication_password = secrets.token_urlsafe(24)
    with psycopg.connect(state.admin_url("postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [REPLICATOR]).fetchone()
        conn.execute(
            sql.SQL(
                ("ALTER" if exists else "CREATE") + " ROLE {} LOGIN REPLICATION NOSUPERUSER"
                " NOCREATEDB NOCREATEROLE PASSWORD {}"
            ).format(sql.Identifier(REPLICATOR), sql.Literal(state.replication_password))
        )
    return state.replication_password


def _drop_slot(state: ClusterState, slot: str) -> None:
    with psycopg.connect(state.admin_url("postgres"), autocommit=True) as conn:
        conn.execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = %s AND NOT active",
            [slot],
        )


def _lag(state: ClusterState, record: dict[str, Any]) -> int | None:
    try:
        with psycopg.connect(state.admin_url("postgres"), autocommit=True, connect_timeout=2) as conn:
            row = conn.execute(
                "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), r.replay_lsn)::bigint"
                " FROM pg_stat_replication r JOIN pg_replication_slots s ON s.active_pid = r.pid"
                " WHERE s.slot_name = %s",
                [record["slot"]],
            ).fetchone()
    except psycopg.OperationalError:
        return None
    return row[0] if row else None


def _running(cluster: Cluster, state: ClusterState, record: dict[str, Any]) -> bool:
    if not Path(record["data_dir"], "PG_VERSION").exists():
        return False
    try:  # a SIGKILLed postmaster that nobody reaped (PID 1 in a container) is a zombie pg_ctl calls alive
        pid = Path(record["data_dir"], "postmaster.pid").read_text().split()[0]
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return False
    except (OSError, IndexError):
        pass
    return cluster._run(state, ["pg_ctl", "-D", record["data_dir"], "status"], check=False) == 0


def _replica_admin_url(state: ClusterState, record: dict[str, Any]) -> str:
    return state.admin_url().replace(f":{state.port}/", f":{record['port']}/")


def check_name(name: str) -> str:
    """A replica's name as `sdi db replica add` makes them (replica1, replica2...)."""
    if not _NAME.match(name):
        raise DatabaseError(f"invalid replica name {name!r}", "see `sdi db replica list` (replica1, replica2...)")
    return name
