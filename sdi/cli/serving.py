"""CLI commands from an empty catalogue to a running API: `sdi init`, `sdi layers`, `sdi serve` and `sdi demo`."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.table import Table

from sdi.cli import database
from sdi.cli.config_cmds import err, out
from sdi.cli.load_cmd import load
from sdi.core.errors import SdiError
from sdi.core.settings import get_settings


def register(cli: click.Group) -> None:
    """Add this module's commands to the `sdi` group."""
    for command in (init, layers, serve, demo):
        cli.add_command(command)


@click.command()
def init() -> None:
    """Create or migrate the catalogue schema (idempotent; every command does it on demand)."""
    from sdi.core.catalogue import migrate
    from sdi.core.config import registry
    from sdi.core.db import connect
    from sdi.loader.load import ensure_theme_table
    from sdi.server.qgis_project import install_styles

    with connect() as conn:
        applied = migrate(conn)
        # Every theme's table exists from the start: city logins may not create tables.
        for schema in registry().schemas.values():
            ensure_theme_table(conn, schema)
        styled = install_styles(conn)
    out.print(f"applied {', '.join(applied)}" if applied else "catalogue is up to date")
    out.print(f"QGIS default styles in public.layer_styles for {len(styled)} themes")


@click.command()
def layers() -> None:
    """List what is loaded: city, theme, feature count, when loaded."""
    from sdi.core.catalogue import layers as list_layers
    from sdi.core.catalogue import open_catalogue

    with open_catalogue() as conn:
        rows = list_layers(conn)
    table = Table("city", "theme", "features", "rejected", "loaded at", "source")
    for r in rows:
        table.add_row(
            r.city,
            r.theme,
            str(r.feature_count),
            str(r.reject_count),
            r.loaded_at.strftime("%Y-%m-%d %H:%M:%S"),
            Path(r.source).name,
        )
    out.print(table if rows else "nothing loaded yet: try `sdi load FILE --city TERYT --theme THEME`")


@click.command()
@click.option("--host", default=None, help="Address nginx listens on [default: 127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port nginx listens on [default: 5000].")
@click.option("--workers", type=int, default=None, help="gunicorn worker processes behind nginx [default: 2].")
def serve(host: str | None, port: int | None, workers: int | None) -> None:
    """Serve every loaded theme as OGC API Features (and rasters as Coverages) until Ctrl-C.

    nginx listens on --host:--port: it waits for slow clients, refuses bodies over 1 MB (413) and
    serves static files; behind it, pygeoapi runs under gunicorn on a private unix socket. Run as
    root, the workers run as the OS user sdi-api (created if missing), which cannot read
    $SDI_HOME/cluster.json; run as a normal user, everything runs as that user. Tokens are masked
    in every log line. Stopping sdi serve (Ctrl-C, SIGTERM) stops nginx and gunicorn; if either
    dies, the other is stopped too. Needs nginx: `make setup` installs it.

    \b
    Example: sdi serve --port 5000, then open http://127.0.0.1:5000/collections
    """
    from sdi.server.serving import serve as run_server

    s = get_settings()
    host, port, workers = host or s.host, port or s.port, workers or s.workers
    out.print(f"serving OGC API Features at http://{host}:{port}/ (Ctrl-C to stop)")
    sys.exit(run_server(s, host=host, port=port, workers=workers))


@click.command()
@click.option("--port", type=int, default=None, help="Port to serve on [default: 5000].")
@click.option("--no-serve", is_flag=True, help="Load the sample data but do not start the server.")
@click.pass_context
def demo(ctx: click.Context, port: int | None, no_serve: bool) -> None:
    """Start PostGIS, load the sample gmina (TERYT 2699011), its elevation model and orthophoto, and serve it."""
    from sdi.cli.rasters import load_raster
    from sdi.core.sample import SAMPLE_CITY, write_sample, write_sample_rasters

    ctx.invoke(database.db_start)
    folder = get_settings().home_abs / "sample"
    for theme, path in write_sample(folder).items():
        ctx.invoke(
            load,
            path=path,
            city=SAMPLE_CITY,
            theme=theme,
            mapping_path=None,
            layer=None,
            encoding=None,
            crs=None,
            dry_run=False,
            report_path=None,
        )
    for theme, path in write_sample_rasters(folder).items():
        ctx.invoke(load_raster, path=path, city=SAMPLE_CITY, theme=theme, crs=None, report_path=None)
    _demo_analysis(ctx, folder / "analysis")
    if not no_serve:
        ctx.invoke(serve, host=None, port=port, workers=None)


def _demo_analysis(ctx: click.Context, report_dir: Path) -> None:
    """The art. 13f access standards of the sample gmina, by its residential buildings (it has no parcels).

    The sample has no green areas either, so both green standards are reported as not met, with the reason.
    Without pgRouting (or with an external database, where sdi has no superuser) the demo goes on without it.
    """
    import psycopg

    from sdi.cli.analysis import access, enable
    from sdi.core.sample import SAMPLE_CITY

    try:
        ctx.invoke(enable)
        ctx.invoke(
            access,
            city=SAMPLE_CITY,
            kinds="kindergarten",
            town="auto",
            school_town_m=None,
            school_rural_m=None,
            snap_m=None,
            units="buildings",
            planned=False,
            queue=False,
            json_path=None,
            csv_path=None,
            report_dir=report_dir,
        )
    except (SdiError, psycopg.Error) as exc:
        reason = exc.message if isinstance(exc, SdiError) else str(exc).splitlines()[0]
        err.print(f"the access analysis was left out: {reason}", highlight=False, soft_wrap=True)
        return
    out.print(f"access standards: {report_dir / 'report.html'}; on the API's map: /collections/access_buildings")
