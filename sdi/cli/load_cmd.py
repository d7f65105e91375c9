"""`sdi load`: a vector file, or every mapped layer of a package, as a new version of a city's theme."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from sdi.cli.config_cmds import err
from sdi.cli.params import TERYT

if TYPE_CHECKING:  # the loader is imported by the commands that load, not at start-up
    from sdi.loader.report import LoadReport


def register(cli: click.Group) -> None:
    """Add this module's command to the `sdi` group."""
    cli.add_command(load)


@click.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--city", type=TERYT, required=True, help="TERYT code of the gmina, e.g. 1465011 (Warszawa) or PRG's 146501_1."
)
@click.option("--theme", help="Theme id, e.g. roads, buildings, public_services (not with --all).")
@click.option(
    "--all",
    "load_all",
    is_flag=True,
    help="Load every layer of a package (a BDOT10k county zip) that a shipped mapping names.",
)
@click.option(
    "--mapping",
    "mapping_path",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="Mapping YAML [default: config/mappings/<city>/<theme>.yaml, else match columns by name].",
)
@click.option("--layer", help="Layer to read when the source holds several.")
@click.option("--encoding", help="Text encoding of the attributes, e.g. cp1250 (overrides .cpg).")
@click.option("--crs", help="CRS of the coordinates, e.g. EPSG:2178 (overrides .prj).")
@click.option("--dry-run", is_flag=True, help="Do everything, then roll back instead of committing.")
@click.option("--report", "report_path", type=click.Path(path_type=Path), help="Write the load report as JSON.")
@click.option("--allow-empty", is_flag=True, help="Publish the load even if it stores no feature (to empty a layer).")
@click.option(
    "--accept-rejects",
    is_flag=True,
    help="Publish the load even if it rejects more than SDI_MAX_REJECT_SHARE (5%) of its features.",
)
@click.option(
    "--allow-shrink",
    is_flag=True,
    help="Publish the load even if it has less than half the features of the current version.",
)
@click.option(
    "--clip-to-city",
    is_flag=True,
    help="Keep only the features inside the --city gmina (needs its boundary in administrative_units).",
)
@click.option(
    "--split-by-gmina",
    is_flag=True,
    help="Load each gmina's features as that gmina's own version (needs the gmina boundaries).",
)
def load(
    path: Path,
    city: str,
    theme: str | None,
    mapping_path: Path | None,
    layer: str | None,
    encoding: str | None,
    crs: str | None,
    dry_run: bool,
    report_path: Path | None,
    allow_empty: bool = False,
    accept_rejects: bool = False,
    allow_shrink: bool = False,
    load_all: bool = False,
    clip_to_city: bool = False,
    split_by_gmina: bool = False,
) -> None:
    """Load a vector file as THEME for one city: a new version, made current atomically.

    \b
    Examples:
      sdi load drogi.shp --city 1465011 --theme roads
      sdi load SKDR.xml --city 1465011 --theme roads --mapping config/mappings/bdot10k/roads.yaml
      sdi load budynki.gpkg --city 1261011 --theme buildings --layer budynki --report load.json
      sdi load puste.gpkg --city 1261011 --theme trees --allow-empty     # empty the layer on purpose
      sdi load PL.PZGiK.994.BDOT10k.1465.zip --city 1465011 --all        # every mapped layer, one version each
      sdi load stops.txt --city 3064011 --theme public_transport_stops --split-by-gmina

    A load that stores nothing, rejects more than 5% of its features or halves the current version is
    not published (exit 5; the current version stays) unless --allow-empty, --accept-rejects or
    --allow-shrink says so. Where gmina boundaries are loaded (administrative_units), the features
    outside --city are counted; --clip-to-city leaves them out, --split-by-gmina gives each gmina its own.
    """
    from sdi.cli.loads import load_package, print_report
    from sdi.loader.guard import LoadRefused
    from sdi.pipeline import run_load, run_split

    if clip_to_city and split_by_gmina:
        raise click.UsageError("--clip-to-city and --split-by-gmina exclude each other: choose one")
    flags: dict[str, Any] = {
        "dry_run": dry_run,
        "allow_empty": allow_empty,
        "accept_rejects": accept_rejects,
        "allow_shrink": allow_shrink,
        "encoding": encoding,
        "crs": crs,
    }
    if load_all:
        if theme or mapping_path or layer:
            raise click.UsageError("--all chooses each layer's theme and mapping: drop --theme, --mapping, --layer")
        with _LoadProgress(path.name) as shown:
            load_package(
                path,
                city=city,
                report_path=report_path,
                clip_to_city=clip_to_city,
                split_by_gmina=split_by_gmina,
                step=shown.step,
                progress=shown.advance,
                **flags,
            )
        return
    if not theme:
        raise click.UsageError("give --theme THEME (or --all to load every mapped layer of a package)")
    try:
        with _LoadProgress(path.name) as shown:
            args: dict[str, Any] = dict(
                city=city,
                theme=theme,
                mapping_path=mapping_path,
                layer=layer,
                step=shown.step,
                progress=shown.advance,
                **flags,
            )
            if split_by_gmina:
                reports, refusals = run_split(path, **args)
            else:
                reports, refusals = [run_load(path, clip_to_city=clip_to_city, **args)], []
    except LoadRefused as refused:
        if report_path and refused.report is not None:
            _write_report(report_path, refused.report)
        raise
    for report in reports:
        print_report(report, path.name)
    if report_path:
        data = [r.as_dict() for r in reports] if split_by_gmina else reports[0].as_dict()
        report_path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str))
    if refusals:
        for refusal in refusals:
            err.print(f"error: {refusal.message}. Fix: {refusal.fix}.", highlight=False, soft_wrap=True)
        sys.exit(refusals[0].exit_code)


def _write_report(path: Path, report: LoadReport) -> None:
    path.write_text(json.dumps(report.as_dict(), indent=2, ensure_ascii=False, default=str))


class _LoadProgress:
    """A spinner naming the stage; a progress bar while writing more than 50,000 features. Quiet off a terminal."""

    def __init__(self, name: str):
        self.name = name
        self.task = TaskID(-1)  # the bar's task, made by __enter__ (rich ids start at 0)
        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err,
            disable=not err.is_terminal,
            transient=True,
        )

    def __enter__(self) -> Self:
        self.bar.start()
        self.task = self.bar.add_task(f"{self.name}: starting", total=None)
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()

    def step(self, stage: str) -> None:
        self.bar.update(self.task, description=f"{self.name}: {stage}")

    def advance(self, n: int, total: int) -> None:
        if total > 50_000:
            self.bar.update(self.task, total=total, advance=n)
