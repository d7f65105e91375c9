"""SQL lives in `sdi/sql/*.sql`; this module reads it and quotes identifiers with one helper."""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import TypeGuard

from psycopg import sql

from sdi.core.errors import ConfigError

# fullmatch, never match with `$`: `$` accepts a trailing newline ("2699011\n"), and str.isdigit() accepts
# digits such as "²"; [0-9] is ASCII only.
_THEME = re.compile(r"[a-z][a-z0-9_]{0,62}")
_CITY = re.compile(r"[0-9]{7}")


@cache
def load(name: str) -> str:
    """The text of `sdi/sql/<name>`."""
    return resources.files("sdi").joinpath("sql", name).read_text(encoding="utf-8")


def migrations() -> list[tuple[int, str, str]]:
    """Every migration as (version, file name, SQL), in version order."""
    folder = resources.files("sdi").joinpath("sql", "migrations")
    found = [
        (int(f.name.split("_", 1)[0]), f.name, f.read_text(encoding="utf-8"))
        for f in folder.iterdir()
        if f.name.endswith(".sql")
    ]
    return sorted(found)


def is_city(value: object) -> TypeGuard[str]:
    """True for a 7-digit TERYT (TERC) code and nothing else: the one rule every caller uses."""
    return isinstance(value, str) and _CITY.fullmatch(value) is not None


def check_theme(theme: str) -> str:
    """A theme id is a lower-case identifier; anything else never reaches SQL."""
    if not isinstance(theme, str) or not _THEME.fullmatch(theme):
        raise ConfigError(
            f"invalid theme id {theme!r}",
            "use lower-case letters, digits and underscores, e.g. roads or public_services",
        )
    return theme


def check_city(city: object) -> str:
    """A city is its 7-digit TERYT (TERC) code, e.g. 1465011 for Warszawa."""
    if not is_city(city):
        raise ConfigError(
            f"invalid city code {city!r}", "give the 7-digit TERYT code of the gmina, e.g. --city 1465011 for Warszawa"
        )
    return city


def theme_table(theme: str) -> sql.Identifier:
    """The quoted view of a theme's current rows, in schema `data`."""
    return sql.Identifier("data", check_theme(theme))


def history_table(theme: str) -> sql.Identifier:
    """The quoted table holding every version of a theme's rows, in schema `history`."""
    return sql.Identifier("history", check_theme(theme))


def ident(name: str) -> sql.Identifier:
    """Any column or table name from a source file, quoted: hostile names stay harmless."""
    return sql.Identifier(name)
