"""CLI commands beyond one database server: `sdi db replica add|list|remove|url`, `sdi db backup|restore`."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import cast

import click

from sdi.cli.config_cmds import out, print_table
from sdi.core.errors import ConfigError
from sdi.core.settings import get_settings


def register(cli: click.Group) -> None:
    """Add this module's commands to the `sdi db` group."""
    db = cast(click.Group, cli.commands["db"])  # `sdi db` is a group, made in sdi.cli.database
    db.add_command(replica)
    db.add_command(backup)
    db.add_command(restore)


def _embedded() -> None:
    if get_settings().database_url:
        raise ConfigError(
            "SDI_DATABASE_URL is set: its replicas are the operator's",
            "give the API all hosts in SDI_READER_DATABASE_URL (see the README, 'Several machines')",
        )


@click.group()
def replica() -> None:
    """Streaming replicas of the embedded cluster, which take the API's reads."""


@replica.command("add")
def replica_add() -> None:
    """Make a streaming replica (pg_basebackup -R) on its own port and start it.

    \b
    Example:
      sdi db replica add && sdi db replica add     # two replicas
      sdi serve                                    # reads go to the replicas, the primary if none answers
    """
    from sdi.core import replicas
    from sdi.core.cluster import Cluster

    _embedded()
    record = replicas.add(Cluster())
    out.print(f"{record['name']} streams from the primary on 127.0.0.1:{record['port']} (data in {record['data_dir']})")


@replica.command("list")
def replica_list() -> None:
    """Every replica: port, running, bytes of WAL behind the primary."""
    from sdi.core import replicas
    from sdi.core.cluster import Cluster

    _embedded()
    rows = replicas.status(Cluster())
    print_table(
        ("name", "port", "running", "behind (bytes)", "data"),
        [
            (
                r["name"],
                str(r["port"]),
                "yes" if r["running"] else "no",
                "" if r["lag_bytes"] is None else str(r["lag_bytes"]),
                r["data_dir"],
            )
            for r in rows
        ],
        "no replicas: sdi db replica add",
    )


@replica.command("remove")
@click.argument("name")
def replica_remove(name: str) -> None:
    """Stop a replica and delete its data and its replication slot."""
    from sdi.core import replicas
    from sdi.core.cluster import Cluster

    _embedded()
    done = replicas.remove(Cluster(), replicas.check_name(name))
    out.print(f"removed {name}" if done else f"no replica called {name}")


@replica.command("url")
def replica_url() -> None:
    """Print a reader URL over every replica and the primary, for several `sdi serve` nodes.

    Each `sdi serve` without SDI_READER_DATABASE_URL gives the reader a new password, which would log
    the other nodes out. Make the URL once and give it to every node:

    \b
      export SDI_READER_DATABASE_URL="$(sdi db replica url)"
      sdi serve --port 5001 & sdi serve --port 5002 &
    """
    from sdi.core import replicas, roles
    from sdi.core.catalogue import open_catalogue
    from sdi.core.cluster import Cluster
    from sdi.core.db import database_url

    _embedded()
    with open_catalogue() as conn:
        url = roles.ensure_reader(conn, database_url())
    click.echo(replicas.reader_url(url, Cluster()))


@click.command()
@click.argument("dest", type=click.Path(path_type=Path, file_okay=False))
def backup(dest: Path) -> None:
    """Back up the database, its rasters and the cluster's state into DEST, then archive WAL there.

    The embedded cluster: pg_basebackup plus continuous WAL archiving into DEST/wal, for point-in-time
    recovery. An external SDI_DATABASE_URL: pg_dump -Fc. Loads and readers may run meanwhile.

    \b
    Example: sdi db backup /srv/backup/sdi-2024-05-01
    """
    from sdi.core.backup import backup as run_backup

    info = run_backup(get_settings(), dest)
    out.print(f"backup ({info['kind']}) in {dest}, taken {info['started']} .. {info['finished']}", highlight=False)


@click.command()
@click.argument("src", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--to", "to", default=None, help="Restore to this moment (ISO 8601, e.g. 2024-05-01T14:30:00+02:00).")
def restore(src: Path, to: str | None) -> None:
    """Bring a backup back into an empty SDI_HOME (or the empty SDI_DATABASE_URL), to its end or --to TIME.

    \b
    Example: SDI_HOME=/srv/sdi-restored sdi db restore /srv/backup/sdi-2024-05-01 --to 2024-05-03T09:00:00+02:00
    """
    from sdi.core.backup import restore as run_restore

    moment = None
    if to:
        try:
            moment = datetime.fromisoformat(to)
        except ValueError:
            raise ConfigError(f"--to {to!r} is not an ISO 8601 time", "e.g. --to 2024-05-01T14:30:00+02:00") from None
        if moment.tzinfo is None:
            raise ConfigError(f"--to {to!r} has no time zone", "add one, e.g. +02:00 or Z")
    run_restore(get_settings(), src, moment)
    out.print(f"restored {src}" + (f" to {to}" if to else " to its last archived change"), highlight=False)
