"""`--server URL` and `--token-file FILE` for `sdi load` and `sdi rejects`: the same commands, run by a server.

A city that cannot reach the database loads over HTTPS through the server's upload service (/uploads):
the file is streamed with a progress bar, the server runs the same pipeline for the token's city, and the
report, the messages and the exit codes are those of a local load. The token comes from $SDI_TOKEN or
--token-file, never from an argument, which would show in shell history and `ps`.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from sdi.cli.config_cmds import err, out
from sdi.core.errors import ConfigError

_SERVER = click.Option(
    ["--server"], metavar="URL", help="Run it on this sdi server over HTTPS (token from $SDI_TOKEN or --token-file)."
)
_TOKEN_FILE = click.Option(
    ["--token-file"],
    type=click.Path(dir_okay=False, path_type=Path),
    help="File whose first line is a load token (with --server) [default: $SDI_TOKEN].",
)


def register(cli: click.Group) -> None:
    """Give `sdi load` and `sdi rejects` (registered before this) the options of remote loading."""
    _extend(cli.commands["load"], _load_remote)
    _extend(cli.commands["rejects"], _rejects_remote)


def _extend(command: click.Command, remote: Callable[..., None]) -> None:
    """Add --server and --token-file to a command; with --server its work goes to `remote` instead."""
    local = command.callback
    if local is None:  # every command extended here is a function's
        raise TypeError(f"command {command.name} has no callback to extend")
    command.params += [_SERVER, _TOKEN_FILE]
    command.help = (command.help or "") + (
        "\n\n    With --server URL it runs on that sdi server (see `sdi token add --scope load`)."
    )

    @functools.wraps(local)
    def callback(*args: Any, server: str | None = None, token_file: Path | None = None, **kwargs: Any) -> Any:
        if server is None:
            if token_file is not None:
                raise click.UsageError("--token-file goes with --server URL")
            return local(*args, **kwargs)
        return remote(server, _token(token_file), **kwargs)

    command.callback = callback


def _token(token_file: Path | None) -> str:
    if token_file is not None:
        try:
            lines = token_file.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ConfigError(f"cannot read the token file {token_file}: {exc.strerror}", "check the path") from None
        token = lines[0].strip() if lines else ""
    else:
        token = os.environ.get("SDI_TOKEN", "").strip()
    if not token:
        raise ConfigError(
            "no token for --server",
            "set SDI_TOKEN or give --token-file FILE (made by `sdi token"
            " add NAME --city TERYT --scope load` on the server)",
        )
    return token


def _load_remote(
    server: str,
    token: str,
    *,
    path: Path,
    city: str,
    theme: str | None,
    mapping_path: Path | None,
    report_path: Path | None,
    load_all: bool = False,
    split_by_gmina: bool = False,
    **flags: Any,
) -> None:
    from sdi.cli.loads import print_report
    from sdi.loader.report import LoadReport
    from sdi.remote.client import RemoteError, upload

    if load_all or split_by_gmina or mapping_path:
        # --split-by-gmina would write other gminas than the token's; a mapping file is not sent (yet)
        raise click.UsageError(
            "--server loads one layer for the token's city: drop --all, --split-by-gmina"
            " and --mapping (the server uses its mapping for the city and theme)"
        )
    if not theme:
        raise click.UsageError("give --theme THEME")
    params = {"city": city, "theme": theme, **flags}
    bar = Progress(
        TextColumn(f"{path.name}: uploading"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=err,
        disable=not err.is_terminal,
        transient=True,
    )
    task = bar.add_task("upload", total=None)
    try:
        with bar:
            data = upload(
                server, token, path, params, progress=lambda n, total: bar.update(task, total=total, advance=n)
            )
    except RemoteError as refused:
        if report_path and refused.report:
            _write(report_path, refused.report)
        raise
    print_report(LoadReport(**data), path.name)
    if report_path:
        _write(report_path, data)


def _rejects_remote(
    server: str, token: str, *, city: str, theme: str, load_id: int | None, export: Path | None
) -> None:
    from rich.table import Table

    from sdi.loader.rejects import export_rejects
    from sdi.remote.client import rejects

    found = rejects(server, token, theme, load_id, city)
    rows, load_id = found["rejects"], found["load_id"]
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


def _write(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str))
