"""The `sdi` command line: the group that gathers every command module, and the entry point. The commands are thin
over the stage modules; errors become one-line messages here only."""

from __future__ import annotations

import logging
import sys

import click

from sdi.cli import (
    analysis,
    config_cmds,
    database,
    load_cmd,
    loads,
    metadata,
    publish,
    rasters,
    remote,
    replicas,
    security,
    serving,
    storage,
)
from sdi.core.errors import SdiError

logger = logging.getLogger(__name__)
err = config_cmds.err


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


load_cmd.register(cli)
serving.register(cli)
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
