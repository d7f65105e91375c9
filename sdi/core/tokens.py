"""Access tokens for restricted themes (utility networks and the like), per city or per user.

A token is shown once, when it is made; the catalogue keeps only its SHA-256, so a copy of the database
gives nobody access. The API checks a token through data.sdi_token_scope(hash) -> (valid, city), whose
city (NULL: every city) binds the token to its scope; data.sdi_token_valid(hash) stays for older callers.
These are the only catalogue questions its read-only login may ask.

A token has a scope (migration 0010): 'read' (restricted themes; every older token) or 'load' (remote
loading through the upload service, always for one city); 'analyse' (migration 0015) executes the
access-standards process, for its city or every city. `grant` is the upload and analysis services'
question; they run as the owner, so they read sdi.tokens themselves and see a revocation at the next request.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any

import psycopg

from sdi.core import sqlfiles
from sdi.core.errors import ConfigError

_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
SCOPES = ("read", "load", "analyse")


@dataclass(frozen=True)
class Grant:
    """What a live token allows: its name, its city (None: every city) and its scope."""

    name: str
    city: str | None
    scope: str


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def add(conn: psycopg.Connection, name: str, city: str | None = None, scope: str = "read") -> str:
    """Make a token called `name` (for a city or a person); returns the token, which is not stored."""
    if not _NAME.match(name):
        raise ConfigError(f"invalid token name {name!r}", "use letters, digits and _ . @ - (at most 64)")
    if scope not in SCOPES:
        raise ConfigError(f"unknown token scope {scope!r}", f"use one of: {', '.join(SCOPES)}")
    if scope == "load" and city is None:
        # a load token for every city would let one leaked secret replace the whole country's data
        raise ConfigError(
            "a load token must be bound to one city",
            f"add --city TERYT: sdi token add {name} --city TERYT --scope load",
        )
    if city is not None:
        sqlfiles.check_city(city)
    token = "sdi_" + secrets.token_urlsafe(32)
    with conn.transaction():
        if conn.execute("SELECT 1 FROM sdi.tokens WHERE name = %s", [name]).fetchone():
            raise ConfigError(f"a token called {name!r} exists", f"revoke it first: sdi token revoke {name}")
        conn.execute(
            "INSERT INTO sdi.tokens (name, city, token_hash, scope) VALUES (%s, %s, %s, %s)",
            [name, city, digest(token), scope],
        )
    return token


def grant(conn: psycopg.Connection, token: str) -> Grant | None:
    """The grant of a live token; None for an empty, unknown or revoked one (all look alike to a caller)."""
    if not token:
        return None
    row = conn.execute(
        "SELECT name, city, scope FROM sdi.tokens WHERE token_hash = %s AND revoked_at IS NULL", [digest(token)]
    ).fetchone()
    return Grant(row[0], row[1], row[2]) if row else None


def list_tokens(conn: psycopg.Connection) -> list[dict[str, Any]]:
    rows = conn.execute("SELECT name, city, scope, created_at, revoked_at FROM sdi.tokens ORDER BY name").fetchall()
    return [dict(zip(("name", "city", "scope", "created_at", "revoked_at"), r, strict=True)) for r in rows]


def revoke(conn: psycopg.Connection, name: str) -> bool:
    """Revoke a token at once; False when there is no live token of that name."""
    with conn.transaction():
        done = conn.execute(
            "UPDATE sdi.tokens SET revoked_at = now() WHERE name = %s AND revoked_at IS NULL", [name]
        ).rowcount
    return done > 0
