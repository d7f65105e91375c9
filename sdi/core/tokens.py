"""Access tokens for restricted themes (utility networks and the like), per city or per user.

A token is shown once, when it is made; the catalogue keeps only its SHA-256, so a copy of the database
gives nobody access. The API checks a token through data.sdi_token_scope(hash) -> (valid, city), whose
city (NULL: every city) binds the token to its scope; data.sdi_token_valid(hash) stays for older callers.
These are the only catalogue questions its read-only login may ask.
"""

from __future__ import annotations

import hashlib
import re
import secrets

import psycopg

from sdi.core import sqlfiles
from sdi.core.errors import ConfigError

_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def add(conn: psycopg.Connection, name: str, city: str | None = None) -> str:
    """Make a token called `name` (for a city or a person); returns the token, which is not stored."""
    if not _NAME.match(name):
        raise ConfigError(f"invalid token name {name!r}", "use letters, digits and _ . @ - (at most 64)")
    if city is not None:
        sqlfiles.check_city(city)
    token = "sdi_" + secrets.token_urlsafe(32)
    with conn.transaction():
        if conn.execute("SELECT 1 FROM sdi.tokens WHERE name = %s", [name]).fetchone():
            raise ConfigError(f"a token called {name!r} exists", f"revoke it first: sdi token revoke {name}")
        conn.execute("INSERT INTO sdi.tokens (name, city, token_hash) VALUES (%s, %s, %s)",
                     [name, city, digest(token)])
    return token


def list_tokens(conn: psycopg.Connection) -> list[dict]:
    rows = conn.execute("SELECT name, city, created_at, revoked_at FROM sdi.tokens ORDER BY name").fetchall()
    return [dict(zip(("name", "city", "created_at", "revoked_at"), r)) for r in rows]


def revoke(conn: psycopg.Connection, name: str) -> bool:
    """Revoke a token at once; False when there is no live token of that name."""
    with conn.transaction():
        done = conn.execute("UPDATE sdi.tokens SET revoked_at = now() WHERE name = %s AND revoked_at IS NULL",
                            [name]).rowcount
    return done > 0
