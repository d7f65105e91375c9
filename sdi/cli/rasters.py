"""CLI commands for rasters: `sdi load-raster`, and `sdi rasters` to list what is stored."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.table import Table

from sdi.cli.config_cmds import err, out, print_table
from sdi.cli.params import TERYT


def register(cli: click.Group) -> None:
    """Add this module's commands to the `sdi` group."""
    cli.add_command(load_raster)
    cli.add_command(rasters)


@click.command("load-raster")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--city", type=TERYT, required=True, help="7-digit TERYT code of the gmina, e.g. 2699011.")
@click.option(
    "--theme", required=True, help="Raster theme: orthophoto, elevation, noise_map, flood_hazard or plan_drawing."
)
@click.option("--crs", help="CRS of the raster, e.g. EPSG:2176 (overrides the file's own).")
@click.option("--report", "report_path", type=click.Path(path_type=Path), help="Write the load report as JSON.")
def load_raster(path: Path, city: str, theme: str, crs: str | None, report_path: Path | None) -> None:
    """Load a raster as THEME for one city: a Cloud-Optimized GeoTIFF in EPSG:2180, made current atomically.

    PATH is a GeoTIFF, JPEG2000 or ASCII grid, a folder of tiles (mosaicked into one), or a zip of
    either. The CRS comes from the file, --crs, or the coordinates; bands and data type must fit the
    theme (config/schemas/THEME.yaml). Reprojection uses nearest for classes, bilinear otherwise.

    \b
    Examples:
      sdi load-raster nmt.asc --city 2699011 --theme elevation --crs EPSG:2176
      sdi load-raster ortofoto/ --city 2699011 --theme orthophoto --report ortho.json
      sdi load-raster mapa_halasu.zip --city 1261011 --theme noise_map
    """
    from sdi.pipeline import run_load_raster

    with err.status(f"{path.name}: starting") as status:
        report = run_load_raster(
            path, city=city, theme=theme, crs=crs, step=lambda stage: status.update(f"{path.name}: {stage}")
        )
    out.print(
        f"load {report['load_id']}: {theme} for city {city} from {path.name} in {report['duration_s']:.2f} s",
        highlight=False,
    )
    summary = Table("tiles", "size (px)", "bands", "type", "pixel", "CRS", "COG", show_edge=False)
    summary.add_row(
        str(report["source"]["tiles"]),
        f"{report['width']} x {report['height']}",
        str(report["bands"]),
        report["dtype"],
        f"{report['resolution_m']:g} m",
        f"{report['crs']} ({report['crs_source']})",
        f"{report['cog']['bytes'] / 1024**2:.1f} MB, {len(report['cog']['overviews'])} overviews",
    )
    out.print(summary)
    for warning in report["warnings"]:
        err.print(f"  warning: {warning}", highlight=False)
    if report_path:
        report_path.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str))


@click.command()
def rasters() -> None:
    """List the current raster of every city and theme: size, pixel, file."""
    from sdi.core.catalogue import open_catalogue

    with open_catalogue() as conn:
        rows = conn.execute(
            "SELECT city, theme, load_id, width, height, resolution, bytes, loaded_at, path"
            " FROM data.sdi_rasters ORDER BY theme, city"
        ).fetchall()
    print_table(
        ("city", "theme", "load", "size (px)", "pixel", "MB", "loaded at", "COG"),
        [
            (
                city,
                theme,
                str(load_id),
                f"{width} x {height}",
                f"{res:g} m",
                f"{size / 1024**2:.1f}",
                f"{loaded_at:%Y-%m-%d %H:%M}",
                path,
            )
            for city, theme, load_id, width, height, res, size, loaded_at, path in rows
        ],
        "no rasters yet: try `sdi load-raster FILE --city TERYT --theme elevation`",
    )
