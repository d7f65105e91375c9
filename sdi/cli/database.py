"""`sdi db start|stop|status|url|destroy`: the embedded PostGIS cluster under $SDI_HOME (sdi.core.cluster.Cluster).
sdi.cli.replicas adds `sdi db replica` and `sdi db backup|restore` to the same group."""

from __future__ import annotations

import sys

import click

from sdi.cli.config_cmds import err, out
from sdi.core.errors import SdiError
from sdi.core.settings import get_settings


def register(cli: click.Group) -> None:
    cli.add_command(db)


@click.group()
def db() -> None:
    """Manage the embedded PostGIS cluster (ignored when SDI_DATABASE_URL is set)."""


def _external() -> bool:
    if get_settings().database_url:
        err.print("SDI_DATABASE_URL is set: sdi uses that database and starts no cluster of its own.")
        return True
    return False


@db.command("start")
def db_start() -> None:
    """Create (first time) and start the cluster in $SDI_HOME.

    Example: SDI_HOME=/srv/sdi sdi db start
    """
    from sdi.core.catalogue import migrate
    from sdi.core.cluster import Cluster
    from sdi.core.db import connect

    if _external():
        return
    cluster = Cluster()
    state = cluster.start()
    with connect() as conn:
        migrate(conn)
    out.print(f"PostGIS is running on 127.0.0.1:{state.port} (data in {state.data_dir})")


@db.command("stop")
def db_stop() -> None:
    """Stop the cluster; its data stays for the next start."""
    from sdi.core.cluster import Cluster

    if _external():
        return
    out.print("stopped" if Cluster().stop() else "not running")


@db.command("status")
def db_status() -> None:
    """Say whether the cluster runs; exit code 0 when it does, 3 when not."""
    from sdi.core.cluster import Cluster

    if _external():
        return
    cluster = Cluster()
    running = cluster.is_running()
    out.print(f"running ({cluster.home})" if running else f"not running ({cluster.home})")
    sys.exit(0 if running else 3)


@db.command("url")
def db_url() -> None:
    """Print the connection URL of the database in use, e.g. for psql "$(sdi db url)"."""
    from sdi.core.cluster import Cluster

    settings = get_settings()
    url = settings.database_url or Cluster().url()
    if url is None:
        raise SdiError("the embedded PostGIS has not been created yet", "run `sdi db start`")
    click.echo(url)


@db.command("destroy")
@click.confirmation_option(prompt="Delete the embedded cluster and all its data?")
def db_destroy() -> None:
    """Stop the cluster and delete all its data."""
    from sdi.core.cluster import Cluster

    if not _external():
        Cluster().destroy()
        out.print("destroyed")
