"""The `sdi` command line: thin commands over the stage modules. Errors become one-line messages here only."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Table

from sdi.cli import (
    analysis,
    config_cmds,
    database,
    loads,
    metadata,
    publish,
    rasters,
    remote,
    replicas,
    security,
    storage,
)
from sdi.cli.params import TERYT
from sdi.core.errors import SdiError
from sdi.core.settings import get_settings

if TYPE_CHECKING:  # the loader is imported by the commands that load, not at start-up
    from sdi.loader.report import LoadReport

logger = logging.getLogger(__name__)
out, err = config_cmds.out, config_cmds.err


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log what each stage does.")
@click.option("--debug", is_flag=True, help="Show the full traceback of an unexpected error.")
@click.pass_context
def cli(ctx: click.Context, verbose: bool, debug: bool) -> None:
    """sdi: load, harmonise and publish municipal spatial data on PostGIS and OGC API Features.

    \b
    Quick start:
      sdi db start                                  # embedded PostGIS under $SDI_HOME (./.sdi)
      sdi load drogi.shp --city 1465011 --theme roads
      sdi layers                                    # what is loaded
      sdi serve                                     # OGC API Features at http://127.0.0.1:5000

    Set SDI_DATABASE_URL to use an existing PostGIS instead of the embedded one.
    """
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    if not (verbose or debug):
        # psycopg warns about a COPY it cannot close when the server is gone; the error that follows says it
        logging.getLogger("psycopg").setLevel(logging.ERROR)
        # GDAL's own warnings about a damaged file come before sdi's one-line error that explains it
        logging.getLogger("rasterio").setLevel(logging.ERROR)
    # Python warnings (GDAL's through pyogrio, numpy's) become log records: the report counts what matters.
    logging.captureWarnings(True)
    if not (verbose or debug):
        logging.getLogger("py.warnings").setLevel(logging.ERROR)
    ctx.obj = {"debug": debug}


@cli.command()
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


@cli.command()
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


@cli.command()
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


@cli.command()
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


@cli.command()
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


database.register(cli)  # before replicas: they add to its `sdi db` group
config_cmds.register(cli)
loads.register(cli)
publish.register(cli)
rasters.register(cli)
security.register(cli)
replicas.register(cli)
metadata.register(cli)
analysis.register(cli)
storage.register(cli)
remote.register(cli)  # --server for load and rejects: after them (issue 22)


def main() -> None:
    """Entry point of the `sdi` script: one line per error, never a traceback unless --debug."""
    debug = "--debug" in sys.argv
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        err.print("aborted")
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except SdiError as exc:
        fix = f" Fix: {exc.fix}." if exc.fix else ""
        err.print(f"error: {exc.message}.{fix}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except Exception as exc:  # the last resort: still one line, with the way to more detail
        if debug:
            raise
        err.print(
            f"internal error: {type(exc).__name__}: {exc}. Fix: rerun with --debug and report it.",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(70)


if __name__ == "__main__":
    main()
