"""CLI commands about storage: `sdi prune`, to drop old versions and the files of killed raster loads."""

from __future__ import annotations

import json

import click

from sdi.cli.config_cmds import out, print_table
from sdi.cli.params import TERYT


def register(cli: click.Group) -> None:
    """Add this module's commands to the `sdi` group."""
    cli.add_command(prune)


@click.command()
@click.option("--city", type=TERYT, help="Only this gmina's versions (7-digit TERYT).")
@click.option("--theme", help="Only this theme's versions.")
@click.option(
    "--keep",
    type=click.IntRange(min=1),
    required=True,
    help="How many of the newest versions of each city's theme to keep (the current one is always kept).",
)
@click.option("--dry-run", is_flag=True, help="Say what would be dropped and freed; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="The report as JSON.")
def prune(city: str | None, theme: str | None, keep: int, dry_run: bool, as_json: bool) -> None:
    """Drop old versions, never the current one nor one still referenced, and orphan COG files.

    Each vector version is its own partition, detached CONCURRENTLY and then dropped: readers keep answering,
    on replicas too. COGs under the raster folder that no catalogue row names and that are older than an hour
    (left by a killed load-raster) are removed as well.

    \b
    Examples:
      sdi prune --keep 3 --dry-run
      sdi prune --city 1465011 --theme roads --keep 2
    """
    from sdi.core.catalogue import open_catalogue
    from sdi.core.db import database_url
    from sdi.core.retention import prune as run_prune
    from sdi.core.settings import get_settings
    from sdi.core.sqlfiles import check_theme

    settings = get_settings()
    if theme is not None:
        check_theme(theme)
    open_catalogue(settings).close()  # migrated, so that the partitions exist
    report = run_prune(
        database_url(settings), keep=keep, raster_dir=settings.raster_dir_abs, city=city, theme=theme, dry_run=dry_run
    )
    verb = "would free" if dry_run else "freed"
    if as_json:
        out.print_json(
            json.dumps(
                {
                    "dry_run": dry_run,
                    "versions": report.versions,
                    "referenced": report.referenced,
                    "orphan_files": report.orphan_files,
                    "orphan_partitions": report.orphan_partitions,
                    "freed_bytes": report.freed_bytes,
                }
            )
        )
        return
    print_table(
        ("load", "city", "theme", "kind", "MB"),
        [(str(v["load_id"]), v["city"], v["theme"], v["kind"], f"{v['bytes'] / 1024**2:.1f}") for v in report.versions],
        "no old version to drop",
    )
    for f in report.orphan_files:
        out.print(f"orphan file: {f['path']} ({f['bytes'] / 1024**2:.1f} MB)", highlight=False)
    if report.referenced:
        out.print(f"kept, still referenced: {', '.join(map(str, report.referenced))}", highlight=False)
    out.print(
        f"{len(report.versions)} version(s) and {len(report.orphan_files)} orphan file(s):"
        f" {verb} {report.freed_bytes / 1024**2:.1f} MB",
        highlight=False,
    )
