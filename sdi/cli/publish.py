"""CLI commands about publishing for planners: the QGIS project."""

from __future__ import annotations

from pathlib import Path

import click

from sdi.cli.config_cmds import out
from sdi.cli.params import TERYT


def register(cli: click.Group) -> None:
    """Add this module's commands to the `sdi` group."""
    cli.add_command(qgis_project)


@click.command("qgis-project")
@click.argument("out_path", metavar="OUT.qgz", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--url", default=None, help="The API's base URL [default: http://127.0.0.1:PORT of sdi serve].")
@click.option("--city", type=TERYT, default=None, help="Only this city (7-digit TERYT), zoomed to its extent.")
def qgis_project(out_path: Path, url: str | None, city: str | None) -> None:
    """Write a QGIS project with one styled layer per published theme, read from the API.

    The layers are grouped as a planner reads a map (services, transport, infrastructure,
    reference, environment, planning), in EPSG:2180, with Polish and English names. Each layer
    downloads only what lies in view. Open the file in QGIS (File > Open) while the API runs.

    \b
    Examples:
      sdi qgis-project sdi.qgz
      sdi qgis-project kielce.qgz --city 2699011 --url https://sdi.example.gov.pl
    """
    from sdi.core.settings import get_settings
    from sdi.server.qgis_project import build

    settings = get_settings()
    url = url or f"http://{settings.host}:{settings.port}"
    data = build(url, city, settings)
    out_path.write_bytes(data)
    out.print(
        f"wrote {out_path} ({len(data) // 1024 + 1} KB): layers from {url}" + (f", city {city}" if city else ""),
        highlight=False,
    )
