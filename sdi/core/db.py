"""Connections to whichever database is in use, and the helpers that read one row or one value of a query.

With SDI_DATABASE_URL set, that database is used and no cluster is ever started. Otherwise it is the
embedded PostGIS cluster under $SDI_HOME (sdi.core.cluster), started on demand.
"""

from __future__ import annotations

from typing import Any

import psycopg

from sdi.core.errors import DatabaseError
from sdi.core.settings import Settings, get_settings


def database_url(settings: Settings | None = None, start: bool = True) -> str:
    """The URL in use: SDI_DATABASE_URL, else the embedded cluster (started on demand)."""
    from sdi.core.cluster import Cluster  # it builds on this module (scalar): imported here, not in a cycle

    settings = settings or get_settings()
    if settings.database_url:
        return settings.database_url
    cluster = Cluster(settings)
    if start:
        return cluster.start().url()
    url = cluster.url()
    if url is None or not cluster.is_running():
        raise DatabaseError("the embedded PostGIS is not running", "run `sdi db start`")
    return url


def one_row(cursor: psycopg.Cursor[Any]) -> Any:
    """The row of a query that always returns one (an aggregate, a function call); a LookupError if it did not."""
    row = cursor.fetchone()
    if row is None:
        raise LookupError("the query returned no row")
    return row


def scalar(cursor: psycopg.Cursor[Any]) -> Any:
    """The first value of the row of a query that always returns one, as `one_row` reads it."""
    return one_row(cursor)[0]


def connect(settings: Settings | None = None, **kwargs: Any) -> psycopg.Connection:
    """A psycopg connection to the database in use, with a user-facing error when it is down."""
    url = database_url(settings)
    try:
        return psycopg.connect(url, **kwargs)
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else "connection refused"
        raise DatabaseError(
            f"cannot connect to PostGIS ({redact(url)}): {reason}",
            "check SDI_DATABASE_URL, or unset it to use the embedded cluster",
        ) from None


def redact(url: str) -> str:
    """The URL with its password hidden, for messages and logs."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "<invalid database URL>"
    return f"{info.get('user', '')}@{info.get('host', 'localhost')}:{info.get('port', 5432)}/{info.get('dbname', '')}"
