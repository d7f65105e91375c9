"""CLI commands about loads: inspect a source, list versions, roll back, show and export rejects."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.table import Table

from sdi.cli.config_cmds import err, out
from sdi.cli.params import TERYT
from sdi.core.errors import InputError

if TYPE_CHECKING:  # the loader is imported by the commands that load, not at start-up
    from sdi.loader.report import LoadReport


def register(cli: click.Group) -> None:
    """Add this module's commands to the `sdi` group."""
    for command in (inspect, history, rollback, rejects):
        cli.add_command(command)


@click.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--layer", help="Only this layer.")
@click.option("--encoding", help="Override the detected encoding.")
@click.option("--crs", help="Override the detected CRS.")
@click.option("--json", "as_json", is_flag=True, help="Print everything as JSON.")
def inspect(path: Path, layer: str | None, encoding: str | None, crs: str | None, as_json: bool) -> None:
    """Show what PATH holds and what sdi detects in it, without touching the database.

    \b
    Example:
      sdi inspect drogi.zip
      sdi inspect stacje_napraw.shp --json
    """
    from sdi.loader.inspect import inspect_source

    report = inspect_source(path, layer=layer, encoding=encoding, crs=crs)
    if as_json:
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
        _fail_if_unreadable(report)
        return
    for lay in report["layers"]:
        out.print(f"[bold]{lay['name']}[/] ({path.name})")
        if "error" in lay:
            out.print(f"  cannot be read: {lay['error']}", highlight=False)
            continue
        out.print(
            f"  {lay['features']} features, {lay['geometry_types']}; {lay['null_or_empty_geometries']} null"
            f" or empty, {lay['invalid_geometries']} invalid",
            highlight=False,
        )
        out.print(
            f"  encoding {lay['encoding']} ({lay['encoding_source']}); CRS {lay['crs']} ({lay['crs_source']})",
            highlight=False,
        )
        out.print(f"  extent (lon/lat): {lay['extent_lonlat']}", highlight=False)
        table = Table("field", "type", "sample values")
        for name, f in lay["fields"].items():
            table.add_row(name, f["type"], " | ".join(f["samples"]))
        out.print(table)
        for w in lay["warnings"]:
            err.print(f"  warning: {w}", highlight=False)
    _fail_if_unreadable(report)


def _fail_if_unreadable(report: dict[str, Any]) -> None:
    """Exit 3 when a layer asked about could not be read: a script must not take that for success."""
    broken = [lay["name"] for lay in report["layers"] if "error" in lay]
    if broken:
        raise InputError(
            f"{len(broken)} of {len(report['layers'])} layer(s) cannot be read: {', '.join(broken)}",
            "see the reason printed for each; fix the file or pick another layer with --layer",
        )


@click.command()
@click.option("--city", type=TERYT, required=True, help="7-digit TERYT code (or PRG's 146501_1).")
@click.option("--theme", required=True, help="Theme id.")
@click.option("--json", "as_json", is_flag=True, help="Print the versions as JSON.")
def history(city: str, theme: str, as_json: bool) -> None:
    """List every version (load) of a city's theme, newest first.

    Example: sdi history --city 1465011 --theme roads
    """
    from sdi.core import catalogue, sqlfiles

    sqlfiles.check_city(city), sqlfiles.check_theme(theme)
    with catalogue.open_catalogue() as conn:
        rows = catalogue.history(conn, city, theme)
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False, default=str))
        return
    table = Table("load", "current", "loaded at", "source", "sha256", "features", "rejected", "by")
    for r in rows:
        table.add_row(
            str(r["load_id"]),
            "*" if r["current"] else "",
            r["loaded_at"].strftime("%Y-%m-%d %H:%M:%S"),
            Path(r["source"]).name,
            (r["source_sha256"] or "")[:12],
            str(r["feature_count"]),
            str(r["reject_count"]),
            r["operator"] or "",
        )
    out.print(table if rows else f"no loads of {theme} for city {city}")


@click.command()
@click.option("--city", type=TERYT, required=True, help="7-digit TERYT code (or PRG's 146501_1).")
@click.option("--theme", required=True, help="Theme id.")
@click.option("--to", "to", required=True, type=int, help="The load id to make current (see `sdi history`).")
def rollback(city: str, theme: str, to: int) -> None:
    """Make an earlier version of a city's theme current again, atomically.

    Example: sdi rollback --city 1465011 --theme roads --to 12
    """
    from sdi.core import catalogue, sqlfiles

    sqlfiles.check_city(city), sqlfiles.check_theme(theme)
    with catalogue.open_catalogue() as conn:
        catalogue.rollback(conn, city, theme, to)
    out.print(f"{theme} for city {city} is now load {to}")


@click.command()
@click.option("--city", type=TERYT, required=True, help="7-digit TERYT code (or PRG's 146501_1).")
@click.option("--theme", required=True, help="Theme id.")
@click.option("--load", "load_id", type=int, help="A load id [default: the newest load].")
@click.option("--export", "export", type=click.Path(path_type=Path), help="Write the rejects to a GeoPackage.")
def rejects(city: str, theme: str, load_id: int | None, export: Path | None) -> None:
    """Show the features a load rejected, with their reasons, or export them to fix and reload.

    \b
    Example:
      sdi rejects --city 1465011 --theme buildings
      sdi rejects --city 1465011 --theme buildings --export odrzucone.gpkg
    """
    from sdi.core import catalogue, sqlfiles
    from sdi.loader.rejects import export_rejects

    sqlfiles.check_city(city), sqlfiles.check_theme(theme)
    with catalogue.open_catalogue() as conn:
        load_id, rows = catalogue.rejects(conn, city, theme, load_id)
    if export:
        export_rejects(rows, export)
        out.print(f"wrote {len(rows)} rejects of load {load_id} to {export}")
        return
    table = Table("source id", "reason", "attributes")
    for r in rows:
        table.add_row(
            r["source_id"] or str(r["source_index"]), r["reason"], json.dumps(r["properties"], ensure_ascii=False)[:100]
        )
    out.print(table if rows else f"load {load_id} rejected nothing")


def print_report(report: LoadReport, source_name: str) -> None:
    """The lines `sdi load` prints for one load: what was stored, a summary table, warnings and rejects."""
    city, theme = report.city, report.theme
    verb = "would load" if report.dry_run else f"load {report.load_id}:"
    out.print(
        f"{verb} {report.features_loaded} features of {theme} for city {city} from {source_name}"
        f" in {report.duration_s:.2f} s",
        highlight=False,
    )
    summary = Table("read", "loaded", "rejected", "repaired", "encoding", "CRS", show_edge=False)
    summary.add_row(
        str(report.features_read),
        str(report.features_loaded),
        str(report.features_rejected),
        str(report.geometries_repaired),
        f"{report.encoding} ({report.encoding_source})",
        f"{report.crs} ({report.crs_source})",
    )
    out.print(summary)
    for warning in report.warnings:
        err.print(f"  warning: {warning}", highlight=False)
    for reason, n in report.reject_reasons.items():
        err.print(
            f"  rejected ×{n}: {reason} (see `sdi rejects --city {city} --theme {theme} --load {report.load_id}`)"
            if report.load_id
            else f"  rejected ×{n}: {reason}",
            highlight=False,
        )


def load_package(path: Path, *, city: str, report_path: Path | None, **options: Any) -> None:
    """`sdi load PACKAGE --all`: one load (one version) per mapped layer, the unmapped ones listed.

    Exits 5 when a layer was refused by the load guard, 3 when one could not be loaded, after loading the rest.
    """
    from sdi.pipeline import run_package

    result = run_package(path, city=city, **options)
    for report in result.reports:
        out.print(f"[{report.source['layer']} -> {report.theme}]", highlight=False)
        print_report(report, path.name)
    for name in result.unmapped:
        err.print(
            f"  not loaded: layer {name} has no shipped mapping (load it with --layer {name} --theme THEME"
            " --mapping FILE)",
            highlight=False,
        )
    lines = [f"error: {refused.message}. Fix: {refused.fix}." for refused in result.refusals]
    lines += [f"error: layer {name}: {exc.message}. Fix: {exc.fix}." for name, exc in result.failed]
    for line in lines:
        err.print(line, highlight=False, soft_wrap=True)
    if report_path:
        refused = [r.report.as_dict() for r in result.refusals if r.report is not None]
        data = {
            "package": str(path),
            "loads": [r.as_dict() for r in result.reports],
            "refused": refused,
            "failed": {name: exc.message for name, exc in result.failed},
            "unmapped_layers": result.unmapped,
        }
        report_path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str))
    if result.refusals or result.failed:
        raise SystemExit(result.refusals[0].exit_code if result.refusals else result.failed[0][1].exit_code)
