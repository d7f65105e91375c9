"""CLI commands about the declarative configuration: schemas, code lists, mapping checks and drafts."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

# Piped output (scripts, tests, `| less`) gets wide tables rather than rich's 80-column default.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else 200)


def print_table(columns: tuple[str, ...], rows: list[tuple[Any, ...]], empty: str) -> None:
    """A listing as a table, or the hint `empty` when there is nothing to list."""
    table = Table(*columns)
    for row in rows:
        table.add_row(*row)
    out.print(table if rows else empty)


def register(cli: click.Group) -> None:
    """Add this module's commands to the `sdi` group."""
    cli.add_command(schemas)
    cli.add_command(schema)
    cli.add_command(check)
    cli.add_command(mapping)


@click.command()
def schemas() -> None:
    """List the themes of the common model, with their geometry (or raster bands) and group."""
    from sdi.core.config import registry

    reg = registry()
    table = Table("theme", "geometry", "group", "access", "title (pl)", "title (en)")
    for s in sorted(reg.schemas.values(), key=lambda s: (s.group, s.id)):
        table.add_row(s.id, s.geometry, s.group, s.access, s.title.pl, s.title.en)
    for r in sorted(reg.rasters.values(), key=lambda r: (r.group, r.id)):
        table.add_row(r.id, f"raster: {len(r.bands)} x {r.dtype}", r.group, r.access, r.title.pl, r.title.en)
    out.print(table)


@click.group()
def schema() -> None:
    """Show a theme's common schema."""


@schema.command("show")
@click.argument("theme")
@click.option("--json", "as_json", is_flag=True, help="Print the schema and its code lists as JSON.")
def schema_show(theme: str, as_json: bool) -> None:
    """Show THEME's fields, types, units and code lists.

    Example: sdi schema show roads --json
    """
    from sdi.core.config import registry

    reg = registry()
    s = reg.schema(theme)
    lists = {f.codelist: reg.codelists[f.codelist] for f in s.fields.values() if f.codelist in reg.codelists}
    if as_json:
        doc = {
            **s.model_dump(exclude_none=True),
            "codelists": {k: v.model_dump(exclude_none=True) for k, v in lists.items()},
        }
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
        return
    out.print(f"[bold]{s.id}[/] — {s.title.pl} / {s.title.en} ({s.geometry}, {s.crs}, {s.group}, {s.access})")
    for source in s.based_on:
        out.print(f"  based on: {source}", highlight=False)
    table = Table("field", "type", "unit", "required", "code list", "title")
    for name, f in s.fields.items():
        table.add_row(
            name,
            f.type,
            f.unit or "",
            "yes" if f.required else "",
            f.codelist or "",
            f"{f.title.pl} / {f.title.en}" if f.title else "",
        )
    out.print(table)
    for cl in lists.values():
        codes = Table(f"{cl.id}", "pl", "en", "BDOT10k/APP", title=f"code list {cl.id}")
        for code, c in cl.codes.items():
            codes.add_row(code, c.pl, c.en, c.bdot10k or c.app or "")
        out.print(codes)


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path, exists=True))
@click.option(
    "--source",
    type=click.Path(path_type=Path, exists=True),
    help="A source file: also check that the mapping's columns and layer exist in it.",
)
def check(paths: tuple[Path, ...], source: Path | None) -> None:
    """Validate schemas, code lists and mappings before any data is touched.

    Reports every problem at once as `file: key.path: message`, and exits 1 if there is any.

    \b
    Examples:
      sdi check                                       # everything under config/
      sdi check my_roads.yaml --source ulice.shp      # one mapping against its source file
    """
    from sdi.loader.check import check_all

    problems, counted = check_all(list(paths), source)
    for p in problems:
        err.print(str(p), highlight=False)
    if problems:
        err.print(f"{len(problems)} problem(s) found", highlight=False)
        raise SystemExit(1)
    out.print(f"ok: {counted}")


@click.group()
def mapping() -> None:
    """Work with mappings."""


@mapping.command("suggest")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--theme", required=True, help="The target theme, e.g. cycle_paths.")
@click.option("--layer", help="Layer to read when the source holds several.")
@click.option("--encoding", help="Text encoding of the attributes, e.g. cp1250.")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write the draft here instead of stdout.")
def mapping_suggest(path: Path, theme: str, layer: str | None, encoding: str | None, output: Path | None) -> None:
    """Print a draft mapping of PATH onto THEME: columns matched by name, values by code list.

    \b
    Example:
      sdi mapping suggest Warszawa-Okolice.shp --theme cycle_paths -o config/mappings/1465011/cycle_paths.yaml
    """
    from sdi.core.config import registry
    from sdi.loader.read import read
    from sdi.loader.suggest import suggest

    reg = registry()
    target = reg.schema(theme)
    source = read(path, layer=layer, encoding=encoding, require_crs=False)
    text = suggest(source.frame, target, reg, source_name=path.name, layer=source.layer)
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
        err.print(f"wrote {output}")
    else:
        click.echo(text, nl=False)
