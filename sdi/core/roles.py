"""Database roles: the login of each city, and the reader the API uses.

The owner (whoever runs `sdi init`) owns every table. A city loads as `sdi_city_<TERYT>`, a member of
`sdi_loader`, which row-level security (migration 0003) confines to the city's own rows. The public API
reads as `<database>_reader`: SELECT on the `data` views only, a statement timeout, no other schema.
Passwords come from files or the environment, or are generated; none is ever logged or printed.

In the embedded cluster the owner cannot create roles (no CREATEROLE, issue 16): logins are made by the
admin's SECURITY DEFINER functions in schema sdi_admin (sql/admin_roles.sql). Against an external
SDI_DATABASE_URL without those functions, whose owner has CREATEROLE, plain DDL does the same.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from sdi.core import sqlfiles
from sdi.core.db import scalar
from sdi.core.errors import ConfigError

CITY_PREFIX = "sdi_city_"
READER_TIMEOUT = "30s"


def city_role(city: str) -> str:
    return CITY_PREFIX + sqlfiles.check_city(city)


def add_city(conn: psycopg.Connection, city: str, password: str) -> str:
    """Create (or re-password) the loader login of a city; returns the role name."""
    role = city_role(city)
    if len(password) < 12:
        raise ConfigError("the password is shorter than 12 characters", "use a longer one")
    with conn.transaction():
        if _admin_functions(conn):
            conn.execute("SELECT sdi_admin.city_login(%s, %s)", [city, password])
            _grant_postgis(conn, role)
            return role
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone()
        verb = "ALTER" if exists else "CREATE"
        conn.execute(
            sql.SQL(verb + " ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(password)
            )
        )
        conn.execute(sql.SQL("GRANT sdi_loader TO {}").format(sql.Identifier(role)))
        _find_postgis(conn, role)
    return role


def list_cities(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """Every city login, with its number of loads in this database."""
    rows = conn.execute(
        "SELECT r.rolname, substring(r.rolname FROM 10) AS city, r.rolcanlogin,"
        " (SELECT count(*) FROM sdi.loads l WHERE l.city = substring(r.rolname FROM 10)) AS loads"
        " FROM pg_roles r WHERE r.rolname ~ '^sdi_city_[0-9]{7}$' ORDER BY r.rolname"
    ).fetchall()
    return [dict(zip(("role", "city", "can_login", "loads"), r, strict=True)) for r in rows]


def remove_city(conn: psycopg.Connection, city: str) -> bool:
    """Drop a city's login (its data stays); False when there was none."""
    role = city_role(city)
    with conn.transaction():
        if _admin_functions(conn):
            dropped: bool = scalar(conn.execute("SELECT sdi_admin.drop_city_login(%s)", [city]))
            return dropped
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone():
            return False
        conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))  # grants in this database
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
    return True


def _admin_functions(conn: psycopg.Connection) -> bool:
    """True where the admin's role functions exist (the embedded cluster), so the owner needs no CREATEROLE."""
    exists: bool = scalar(conn.execute("SELECT to_regprocedure('sdi_admin.city_login(text, text)') IS NOT NULL"))
    return exists


def _postgis_schema(conn: psycopg.Connection) -> str:
    schema: str = scalar(
        conn.execute("SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'postgis'")
    )
    return schema


def _grant_postgis(conn: psycopg.Connection, role: str) -> None:
    """USAGE on the schema PostGIS lives in, which gives no right on its tables (the owner owns it)."""
    conn.execute(
        sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(_postgis_schema(conn)), sql.Identifier(role))
    )


def _find_postgis(conn: psycopg.Connection, role: str) -> None:
    """Let the role use PostGIS wherever it is installed (old embedded clusters have it in schema sdi):
    USAGE on that schema, and a search_path that finds it."""
    _grant_postgis(conn, role)
    conn.execute(
        sql.SQL("ALTER ROLE {} SET search_path = data, {}, public").format(
            sql.Identifier(role), sql.Identifier(_postgis_schema(conn))
        )
    )


def password_from(file: Path | None, env_value: str | None) -> str:
    """A password from a file (first line) or an environment variable; an error when there is neither."""
    if file is not None:
        try:
            text = file.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ConfigError(f"cannot read the password file {file}: {exc.strerror}", "check the path") from None
        if not text or not text[0].strip():
            raise ConfigError(f"the password file {file} is empty", "write the password on its first line")
        return text[0].strip()
    if env_value:
        return env_value
    raise ConfigError("no password given", "use --password-file FILE or set SDI_CITY_PASSWORD")


def ensure_reader(conn: psycopg.Connection, url: str) -> str:
    """Create or refresh the reader login of this database with a new password; returns its URL.

    The password is new at every `sdi serve` start and travels to the workers in their environment only.
    """
    name = scalar(conn.execute("SELECT current_database()"))
    role = f"{name[:50]}_reader"
    password = secrets.token_urlsafe(24)
    with conn.transaction():
        if _admin_functions(conn):
            conn.execute("SELECT sdi_admin.reader_login(%s)", [password])
            conn.execute(sql.SQL(sqlfiles.load("reader_grants.sql")).format(role=sql.Identifier(role)))
            _grant_postgis(conn, role)
            return _reader_url(url, role, password)
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone()
        conn.execute(
            sql.SQL(
                ("ALTER" if exists else "CREATE") + " ROLE {} LOGIN NOSUPERUSER NOCREATEDB"
                " NOCREATEROLE NOINHERIT PASSWORD {}"
            ).format(sql.Identifier(role), sql.Literal(password))
        )
        conn.execute(
            sql.SQL("ALTER ROLE {} SET statement_timeout = {}").format(
                sql.Identifier(role), sql.Literal(READER_TIMEOUT)
            )
        )
        # JIT compilation costs 15-20 ms a query and never pays back on the API's short, indexed queries.
        conn.execute(sql.SQL("ALTER ROLE {} SET jit = off").format(sql.Identifier(role)))
        # Parallel workers help one query alone, but under many concurrent requests on few cores they
        # only add processes competing for the same CPUs.
        conn.execute(sql.SQL("ALTER ROLE {} SET max_parallel_workers_per_gather = 0").format(sql.Identifier(role)))
        conn.execute(sql.SQL(sqlfiles.load("reader_grants.sql")).format(role=sql.Identifier(role)))
        _find_postgis(conn, role)
    return _reader_url(url, role, password)


def _reader_url(url: str, role: str, password: str) -> str:
    params = conninfo_to_dict(url)
    params.update(user=role, password=password)
    return make_conninfo("", **{k: v for k, v in params.items() if v is not None})
