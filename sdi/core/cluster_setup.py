"""What the embedded cluster is built from: its role and database names, its server settings, the database's
roles, and the PostgreSQL binaries, ports and OS users it runs with (sdi.core.cluster, backup and replicas use them).

Least privilege (issue 16): the cluster's superuser is `sdi_admin`, whose password only cluster.json
(mode 600) holds. The `sdi` owner of the catalogue is neither SUPERUSER nor CREATEROLE: before
PostgreSQL 16 a CREATEROLE role can grant itself pg_execute_server_program and pg_read_server_files.
City logins and the reader are made by the admin's SECURITY DEFINER functions (sql/admin_roles.sql).
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import psycopg
from psycopg import sql

from sdi.core import sqlfiles
from sdi.core.db import scalar
from sdi.core.errors import DatabaseError
from sdi.core.settings import Settings

DB_NAME = "sdi"
DB_USER = "sdi"
ADMIN_USER = "sdi_admin"
# Where root keeps clusters whose $SDI_HOME the postgres user cannot enter (mode 700 temp folders).
ROOT_CLUSTERS = Path("/var/lib/sdi/clusters")


#: history is partitioned by load: a query the planner cannot prune locks every partition it plans, one slot each,
#: and the default 64 slots per connection run out at a few thousand versions kept. A hot standby refuses to start
#: with less than its primary's value, so the replicas (sdi.core.replicas) use this same constant.
MAX_LOCKS_PER_TRANSACTION = 256


def ensure_owner(admin: psycopg.Connection, owner: str, password: str) -> None:
    """Create or fix the catalogue's owner: a login that may create databases (the tests' templates) and
    nothing else a superuser could abuse: no SUPERUSER, no CREATEROLE, no server-file or program roles."""
    exists = admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [owner]).fetchone()
    verb = "ALTER" if exists else "CREATE"
    admin.execute(
        sql.SQL(verb + " ROLE {} LOGIN NOSUPERUSER NOCREATEROLE CREATEDB NOREPLICATION NOBYPASSRLS PASSWORD {}").format(
            sql.Identifier(owner), sql.Literal(password)
        )
    )
    for role in _DANGEROUS_ROLES:
        if scalar(admin.execute("SELECT pg_has_role(%s, %s, 'MEMBER')", [owner, role])):
            admin.execute(sql.SQL("REVOKE {} FROM {}").format(sql.Identifier(role), sql.Identifier(owner)))
    if not admin.execute("SELECT 1 FROM pg_roles WHERE rolname = 'sdi_loader'").fetchone():
        admin.execute("CREATE ROLE sdi_loader NOLOGIN")  # roles belong to the cluster: one group for every database


_DANGEROUS_ROLES = ("pg_execute_server_program", "pg_read_server_files", "pg_write_server_files")


def prepare_database(admin: psycopg.Connection, owner: str) -> None:
    """In the database `admin` is connected to, as a superuser: PostGIS, and the role functions of schema
    sdi_admin, which the owner may call and not change."""
    admin.execute(sqlfiles.load("admin_roles.sql"))
    # pgRouting for the planning analysis (sdi.analysis), where the Debian package is installed; in public,
    # which every login's search_path holds (not sdi_admin, which only the admin's functions use).
    if admin.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'pgrouting'").fetchone():
        admin.execute("CREATE EXTENSION IF NOT EXISTS pgrouting SCHEMA public")
    admin.execute(
        sql.SQL(
            "GRANT USAGE ON SCHEMA sdi_admin TO {o}; GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA sdi_admin TO {o}"
        ).format(o=sql.Identifier(owner))
    )


def _pg_bin(settings: Settings) -> Path:
    if settings.pg_bin:
        return settings.pg_bin
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name))
    if not found:
        raise DatabaseError(
            "PostgreSQL server binaries not found in /usr/lib/postgresql",
            "run `make setup`, or set SDI_PG_BIN, or set SDI_DATABASE_URL to an existing PostGIS",
        )
    return found[-1].parent


def _user_can_enter(user: str, folder: Path) -> bool:
    # Traversal is enough: sdi creates pgdata itself and hands it to that user.
    return (
        subprocess.run(["runuser", "-u", user, "--", "test", "-x", str(folder)], check=False, cwd="/").returncode == 0
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _port_free(port: int, wait: float = 10.0) -> bool:
    """Whether PostgreSQL could listen on `port` again, waiting a little for a killed server's children.

    SO_REUSEADDR as PostgreSQL sets it: connections in TIME_WAIT do not keep a server off its own port.
    Moving a server to a new port would break every URL that names the old one (SDI_READER_DATABASE_URL).
    """
    deadline = time.monotonic() + wait
    while True:
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
                return True
            except OSError:
                if time.monotonic() >= deadline:
                    return False
        time.sleep(0.2)
