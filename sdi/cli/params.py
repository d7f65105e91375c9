"""Parameters checked once, at the edge: every --city of every command is a TERYT by one rule (sdi.core.teryt)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import click

from sdi.core import sqlfiles, teryt
from sdi.core.errors import ConfigError

logger = logging.getLogger(__name__)

if TYPE_CHECKING:  # click's ParamType is generic to a type checker; a click before 8.2 cannot subscript it at run time
    TextParam = click.ParamType[str | None, object]
else:
    TextParam = click.ParamType


class Teryt(TextParam):
    """A city's TERYT code: 1465011, PRG's 146501_1, or 6 digits that the loaded gmina boundaries resolve.

    A refusal is an SdiError rather than click's usage error, so that it prints as the house's one line
    with its fix instead of the usage text.
    """

    name = "TERYT"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> str | None:
        if value is None:
            return None
        try:
            code = teryt.city(value, resolve=_loaded_gminas)
        except teryt.NotTeryt as exc:
            option = f"{param.opts[0]} " if param is not None and param.opts else ""
            raise ConfigError(f"invalid city code {option}{str(value)!r}: {exc}", teryt.FIX) from None
        return sqlfiles.check_city(code)


def _loaded_gminas(six: str) -> list[str]:
    """The gminas the catalogue knows for a 6-digit code; none when there is no database to ask."""
    import psycopg

    from sdi.core.catalogue import open_catalogue
    from sdi.core.errors import SdiError
    from sdi.loader.gminas import resolve_six

    try:
        with open_catalogue() as conn:
            return resolve_six(conn, six)
    except (SdiError, psycopg.Error) as exc:
        # no database running: the code stays unresolved, and the fix says what to do
        logger.info("cannot resolve %s: %s", six, exc)
        return []


TERYT = Teryt()
