"""CLI commands about who may do what: city logins, tokens for restricted themes and for remote loads."""

from __future__ import annotations

import os
from pathlib import Path

import click

from sdi.cli.config_cmds import out, print_table
from sdi.cli.params import TERYT


def register(cli: click.Group) -> None:
    """Add this module's commands to the `sdi` group."""
    cli.add_command(city)
    cli.add_command(token)


@click.group()
def city() -> None:
    """City logins: each city loads with its own role and can write only its own data."""


@city.command("add")
@click.argument("teryt", type=TERYT)
@click.option(
    "--password-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File whose first line is the password [default: $SDI_CITY_PASSWORD].",
)
def city_add(teryt: str, password_file: Path | None) -> None:
    """Create the loader login sdi_city_TERYT (or set a new password for it).

    \b
    Example:
      sdi city add 1465011 --password-file warszawa.pass
      SDI_DATABASE_URL=postgresql://sdi_city_1465011:...@host/sdi sdi load drogi.shp --city 1465011 --theme roads
    """
    from sdi.core.catalogue import open_catalogue
    from sdi.core.roles import add_city, password_from

    password = password_from(password_file, os.environ.get("SDI_CITY_PASSWORD"))
    with open_catalogue() as conn:
        role = add_city(conn, teryt, password)
    out.print(f"login {role} can load city {teryt}, and only that city")


@city.command("list")
def city_list() -> None:
    """Every city login and its number of loads here."""
    from sdi.core.catalogue import open_catalogue
    from sdi.core.roles import list_cities

    with open_catalogue() as conn:
        rows = list_cities(conn)
    print_table(
        ("city", "role", "login", "loads"),
        [(r["city"], r["role"], "yes" if r["can_login"] else "no", str(r["loads"])) for r in rows],
        "no city logins yet: sdi city add TERYT --password-file FILE",
    )


@city.command("remove")
@click.argument("teryt")
def city_remove(teryt: str) -> None:
    """Drop the login of a city; its data stays."""
    from sdi.core.catalogue import open_catalogue
    from sdi.core.roles import remove_city

    with open_catalogue() as conn:
        removed = remove_city(conn, teryt)
    out.print(f"removed the login of {teryt}" if removed else f"city {teryt} had no login")


@click.group()
def token() -> None:
    """Tokens for restricted themes (utility networks), per city or per user, stored hashed."""


@token.command("add")
@click.argument("name")
@click.option("--city", type=TERYT, default=None, help="The city (TERYT) the token is for, if any.")
@click.option(
    "--scope",
    type=click.Choice(["read", "load", "analyse"]),
    default="read",
    show_default=True,
    help="read: restricted themes; load: remote loads for --city through /uploads;"
    " analyse: run the access-standards process (of --city, or of every city).",
)
def token_add(name: str, city: str | None, scope: str) -> None:
    """Make a token and show it once: it cannot be shown again.

    \b
    Example:
      sdi token add mpwik-krakow --city 1261011
      curl -H "Authorization: Bearer TOKEN" http://127.0.0.1:5000/collections/utility_networks/items
      sdi token add krakow-gis --city 1261011 --scope load
      SDI_TOKEN=... sdi load drogi.gpkg --city 1261011 --theme roads --server https://sdi.example.gov.pl
      sdi token add planista --city 1261011 --scope analyse
    """
    from sdi.core.catalogue import open_catalogue
    from sdi.core.tokens import add

    with open_catalogue() as conn:
        secret = add(conn, name, city, scope)
    click.echo(secret)
    out.print("keep it: only its hash is stored", style="dim")


@token.command("list")
def token_list() -> None:
    """Every token: name, city, scope, when made, when revoked (never the token itself)."""
    from sdi.core.catalogue import open_catalogue
    from sdi.core.tokens import list_tokens

    with open_catalogue() as conn:
        rows = list_tokens(conn)
    print_table(
        ("name", "city", "scope", "created", "revoked"),
        [
            (
                r["name"],
                r["city"] or "",
                r["scope"],
                f"{r['created_at']:%Y-%m-%d %H:%M}",
                f"{r['revoked_at']:%Y-%m-%d %H:%M}" if r["revoked_at"] else "",
            )
            for r in rows
        ],
        "no tokens yet: sdi token add NAME",
    )


@token.command("revoke")
@click.argument("name")
def token_revoke(name: str) -> None:
    """Revoke a token; the API refuses it within 30 s."""
    from sdi.core.catalogue import open_catalogue
    from sdi.core.tokens import revoke

    with open_catalogue() as conn:
        done = revoke(conn, name)
    out.print(f"revoked {name}" if done else f"no live token called {name}")
