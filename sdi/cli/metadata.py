"""CLI commands about metadata and the national register: `sdi metadata ...` and `sdi iip-register`."""

from __future__ import annotations

import click

from sdi.cli.config_cmds import out, print_table
from sdi.cli.params import TERYT, TextParam
from sdi.core.errors import ConfigError
from sdi.core.settings import Settings

_URL_HELP = "The public address of the server, as the register and clients reach it [default: SDI_PUBLIC_URL, else http://127.0.0.1:5000]."


def _base(url: str | None, settings: Settings) -> str:
    """--url, else SDI_PUBLIC_URL, else the default local address; checked like SDI_PUBLIC_URL."""
    from sdi.server.records import public_url

    return public_url(settings.model_copy(update={"public_url": url}) if url else settings, "http://127.0.0.1:5000")


def register(cli: click.Group) -> None:
    """Add this module's commands to the `sdi` group."""
    cli.add_command(metadata)
    cli.add_command(iip_register)


class _CityOrAll(TextParam):
    """A TERYT code, or `all` for a theme's data set over every city."""

    name = "TERYT|all"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> str | None:
        return "all" if str(value).strip().lower() == "all" else TERYT.convert(value, param, ctx)


def _theme(theme: str, settings: Settings) -> str:
    from sdi.core.config import registry

    known = registry(settings)
    if theme not in known.schemas and theme not in known.rasters:
        raise ConfigError(
            f"unknown theme {theme!r}", f"use one of: {', '.join(sorted({*known.schemas, *known.rasters}))}"
        )
    return theme


@click.group()
def metadata() -> None:
    """ISO 19139 records of the published data sets, and their identifiers in the national register."""


@metadata.command("set-id")
@click.option(
    "--city", required=True, type=_CityOrAll(), help="TERYT of the gmina, or `all` for the national data set."
)
@click.option("--theme", required=True, help="The theme of the data set.")
@click.option("--remove", is_flag=True, help="Forget the identifier instead of setting one.")
@click.argument("register_id", required=False)
def set_id(city: str, theme: str, remove: bool, register_id: str | None) -> None:
    """Store the identifier that the national register (IIP act art. 13) gave a data set.

    It becomes the record's MD_Identifier at the next catalogue refresh (a running `sdi serve` picks it up
    at its next start or catalogue change); the record's fileIdentifier never changes.

    \b
    Example:
      sdi metadata set-id --city 2699011 --theme roads PL.ZIPIN.2699011.SIEC_DROG
    """
    import re

    from sdi.core.catalogue import open_catalogue
    from sdi.core.settings import get_settings
    from sdi.server.datasets import file_identifier, set_register_id

    settings = get_settings()
    _theme(theme, settings)
    if not remove and (not register_id or not re.fullmatch(r"[A-Za-z0-9._:/#-]{1,200}", register_id)):
        raise ConfigError(
            f"register id {register_id!r} is missing or has characters a register id never has",
            "give the id exactly as the register shows it (letters, digits and . _ : / # -)",
        )
    with open_catalogue(settings) as conn:
        set_register_id(conn, city, theme, None if remove else register_id)
    what = "removed" if remove else f"set to {register_id}"
    out.print(f"{theme} of {city}: register id {what} (fileIdentifier {file_identifier(city, theme)})")


@metadata.command("list")
@click.option("--url", default=None, help=_URL_HELP)
def list_records(url: str | None) -> None:
    """Every public data set: its fileIdentifier, register id and record URL."""
    from sdi.core.catalogue import open_catalogue
    from sdi.core.settings import get_settings
    from sdi.server.datasets import published
    from sdi.server.records import links

    settings = get_settings()
    base = _base(url, settings)
    with open_catalogue(settings) as conn:
        found = published(conn, settings)
    print_table(
        ("city", "theme", "fileIdentifier", "register id", "record"),
        [(d.city, d.theme, d.file_identifier, d.register_id or "-", links(d, base)["record"]) for d in found],
        "no public data set is loaded yet: sdi load FILE --city TERYT --theme THEME",
    )


@metadata.command("show")
@click.option("--city", required=True, type=_CityOrAll())
@click.option("--theme", required=True)
@click.option("--url", default=None, help=_URL_HELP)
def show(city: str, theme: str, url: str | None) -> None:
    """Print a data set's ISO 19139 record, as the catalogue serves it.

    Example: sdi metadata show --city 2699011 --theme roads > drogi.xml
    """
    from sdi.core.catalogue import open_catalogue
    from sdi.core.settings import get_settings
    from sdi.server import downloads, records
    from sdi.server.datasets import published

    settings = get_settings()
    _theme(theme, settings)
    with open_catalogue(settings) as conn:
        found = [d for d in published(conn, settings) if (d.city, d.theme) == (city, theme)]
    if not found:
        raise ConfigError(
            f"no public data set {theme} for {city}",
            "load it first; restricted themes have no public record (see `sdi metadata list`)",
        )
    target = downloads.folder(settings) / downloads.public_path(found[0]).removeprefix(downloads.PREFIX + "/")
    if target.exists():
        found[0].downloads[downloads.public_path(found[0])] = target.stat().st_size
    click.echo(records.iso19139(found[0], settings, _base(url, settings)).decode("utf-8"), nl=False)


@click.command("iip-register")
@click.option("--city", required=True, type=TERYT, help="TERYT of the gmina registering.")
@click.option("--url", default=None, help=_URL_HELP)
def iip_register(city: str, url: str | None) -> None:
    """What to enter in the national register (ewidencja IIP, art. 13): data sets and service URLs.

    Example: sdi iip-register --city 2699011 --url https://sip.przykladowa.gov.pl
    """
    from sdi.core.catalogue import open_catalogue
    from sdi.core.settings import get_settings
    from sdi.server import service_records
    from sdi.server.datasets import published
    from sdi.server.records import links

    settings = get_settings()
    base = _base(url, settings)
    with open_catalogue(settings) as conn:
        found = [d for d in published(conn, settings) if d.city == city]
    out.print(f"Gmina {city}: {len(found)} public data sets")
    print_table(
        ("theme", "metadata identifier (fileIdentifier)", "register id", "record"),
        [
            (d.theme, d.file_identifier, d.register_id or "(not yet: sdi metadata set-id)", links(d, base)["record"])
            for d in found
        ],
        f"nothing loaded for {city} yet: sdi load FILE --city {city} --theme THEME",
    )
    out.print("Services (each with its own ISO 19139 record, also in the CSW):")
    view = _wms_installed()
    for svc in service_records.offered(view):
        fid = service_records.file_identifier(svc.key)
        out.print(
            f"{svc.kind} service, {svc.title[1]}: {base}{svc.path}\n    metadata identifier {fid}, "
            f"record {base}/metadata/{fid}.xml",
            soft_wrap=True,
            highlight=False,
        )
    out.print(f"open data catalogue (DCAT-AP, JSON-LD): {base}/metadata/catalogue.jsonld", soft_wrap=True)
    if not view:
        out.print("view service (WMS): off here, QGIS Server is not installed (run `make setup`)")


def _wms_installed() -> bool:
    from sdi.server import wms

    return wms._qgis_server_installed()
