"""`sdi analysis ...` (also `sdi analyse ...`): the art. 13f accessibility standards of a city, its job runner."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from sdi.cli.config_cmds import err, out
from sdi.cli.params import TERYT


def register(cli: click.Group) -> None:
    """Add this module's commands to the `sdi` group (`analyse`, the issue's spelling, is the same group)."""
    cli.add_command(analysis)
    cli.add_command(analysis, "analyse")
    cli.add_command(worker, "worker")  # `sdi worker`, the name for the job runner


@click.group()
def analysis() -> None:
    """Planning with the data: access standards of art. 13f of the planning act along real streets."""


@analysis.command("access")
@click.option("--city", type=TERYT, required=True, help="7-digit TERYT code of the gmina, e.g. 2699011.")
@click.option("--kinds", help="Optional standards with the gmina's own distances, e.g. kindergarten=800,stop.")
@click.option(
    "--town",
    type=click.Choice(["auto", "town", "rural"]),
    default="auto",
    show_default=True,
    help="Whether parcels lie in a town (school 1,500 m) or not (3,000 m); auto: administrative_units.",
)
@click.option("--school-town-m", type=float, help="School distance in towns [1500].")
@click.option("--school-rural-m", type=float, help="School distance outside towns [3000].")
@click.option("--snap-m", type=float, help="Join street ends closer than this to another line [5].")
@click.option(
    "--units",
    type=click.Choice(["parcels", "addresses", "buildings"]),
    default="parcels",
    show_default=True,
    help="The unit of analysis: the law's registered parcel, or as further views the"
    " address points or the residential buildings.",
)
@click.option(
    "--planned",
    is_flag=True,
    help="Add the road zones of land_use_plans to the network (ust. 4): a"
    " what-if run that does not replace the published results.",
)
@click.option("--queue", is_flag=True, help="Only queue the run for the job runner (`sdi analysis worker`).")
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write the run's summary as JSON.")
@click.option("--csv", "csv_path", type=click.Path(path_type=Path), help="Write one row per unit as CSV.")
@click.option(
    "--report",
    "report_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write report.html (map and summary table), summary.csv and summary.json into this folder.",
)
def access(
    city: str,
    kinds: str | None,
    town: str,
    school_town_m: float | None,
    school_rural_m: float | None,
    snap_m: float | None,
    units: str,
    planned: bool,
    queue: bool,
    json_path: Path | None,
    csv_path: Path | None,
    report_dir: Path | None,
) -> None:
    """Which parcels of CITY meet the standards: school, 3 ha of green within 1,500 m, 20 ha within 3,000 m.

    \b
    Examples:
      sdi analysis access --city 2699011
      sdi analysis access --city 2699011 --kinds kindergarten=800,stop=400 --csv parcels.csv
      sdi analysis access --city 2699011 --queue        # the job runner of `sdi serve` does it
    The result is the view data.access_standards (open it in QGIS) and the run's summary.
    """
    from sdi.analysis import runs
    from sdi.analysis.standards import parse, parse_kinds
    from sdi.core.catalogue import open_catalogue

    std = parse(
        {
            "city": city,
            "town": town,
            "school_town_m": school_town_m,
            "school_rural_m": school_rural_m,
            "snap_m": snap_m,
            "optional": parse_kinds(kinds),
            "units": units,
            "planned": planned,
        }
    )
    with open_catalogue() as conn:
        run_id = runs.submit(conn, std)
        if queue:
            out.print(f"queued run {run_id} for city {city}")
            return
        runs.claim_next_id(conn, run_id)
        with err.status(f"run {run_id}: building the network of {city} and measuring"):
            result = runs.execute(conn, run_id)
        _show(result)
        if json_path:
            json_path.write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str))
        if csv_path:
            _write_csv(conn, run_id, csv_path)
        if report_dir:
            _write_report(conn, run_id, report_dir)


def _write_report(conn: Any, run_id: int, folder: Path) -> None:
    from sdi.analysis import report

    data = report.collect(conn, run_id)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.html").write_text(report.report_html(data)[0], encoding="utf-8")
    (folder / "summary.csv").write_text(report.summary_csv(data), encoding="utf-8")
    (folder / "summary.json").write_text(
        json.dumps(report.summary_json(data), indent=2, ensure_ascii=False, default=str), encoding="utf-8"
    )
    out.print(f"report: {folder / 'report.html'} (and summary.csv, summary.json)", highlight=False)


@analysis.command("report")
@click.argument("run_id", type=int)
@click.option(
    "--out",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="The folder to write report.html, summary.csv and summary.json into.",
)
def report_cmd(run_id: int, folder: Path) -> None:
    """Write the HTML report (map and summary table) and the CSV and JSON summaries of a finished run."""
    from sdi.analysis import runs
    from sdi.core.catalogue import open_catalogue
    from sdi.core.errors import ConfigError

    with open_catalogue() as conn:
        row = runs.status(conn, run_id)
        if row is None or row["status"] != "successful":
            raise ConfigError(f"analysis run {run_id} has not succeeded", f"see `sdi analysis status {run_id}`")
        _write_report(conn, run_id, folder)


def _show(result: dict[str, Any]) -> None:
    net, summary = result["network"], result["summary"]
    out.print(
        f"run {result['run_id']}: network of {net['edges']} edges, {net['components']} components,"
        f" {net['connectors']} gaps closed; {summary['seconds']} s",
        highlight=False,
    )
    table = Table(
        "area",
        net.get("units", "parcels"),
        "school",
        "green 3 ha",
        "green 20 ha",
        "all",
        "addresses met",
        "unreachable",
        show_edge=False,
    )
    rows = [("gmina", r["city"], r) for r in summary["gmina"]] + [
        (r["level"].replace("_", " "), r["area"], r) for r in summary.get("worst", [])
    ]
    for level, area, row in rows:
        share = row.get("addresses_ok")
        table.add_row(
            f"{level} {area}",
            str(row["parcels"]),
            *(f"{100 * row[k]:.1f}%" for k in ("school", "green_3ha", "green_20ha", "all_standards")),
            "-" if share is None else f"{100 * share:.1f}%",
            str(row["unreachable"]),
        )
    out.print(table)
    for warning in summary["warnings"]:
        err.print(f"  warning: {warning}", highlight=False)


def _write_csv(conn: Any, run_id: int, path: Path) -> None:
    cur = conn.execute(
        "SELECT parcel_id, precinct, town, school_m, school_fid, school_ok, school_straight_ok,"
        " green_sum_ha, green_ok, green20_m, green20_fid, green20_ok, optional, all_ok, reason"
        " FROM analysis.parcel_access WHERE run_id = %s ORDER BY parcel_id",
        [run_id],
    )
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow([c.name for c in cur.description])
        writer.writerows([json.dumps(v) if isinstance(v, dict) else v for v in row] for row in cur)


@analysis.command("worker")
@click.option("--once", is_flag=True, help="Run what is queued, then exit.")
def worker(once: bool) -> None:
    """The job runner: run queued analyses with the owner's login (never in the API's read-only workers).

    \b
    Examples:
      sdi worker                 # runs jobs queued through POST /processes/access-standards/execution
      sdi analysis worker --once # what is queued now, then exit (cron)
    """
    from sdi.analysis import runs

    done = runs.work(once=once)
    out.print(f"ran {done} queued run(s)")


@analysis.command("status")
@click.argument("run_id", type=int)
def status(run_id: int) -> None:
    """Show a run: its status, network report and summary, as JSON."""
    from sdi.analysis import runs
    from sdi.core.catalogue import open_catalogue
    from sdi.core.errors import ConfigError

    with open_catalogue() as conn:
        row = runs.status(conn, run_id)
    if row is None:
        raise ConfigError(f"no analysis run {run_id}", "list runs with psql: SELECT * FROM analysis.runs")
    click.echo(json.dumps(row, indent=2, ensure_ascii=False, default=str))


@analysis.command("enable")
def enable() -> None:
    """Create pgRouting in the embedded cluster's database, as its superuser (the owner may not)."""
    import psycopg

    from sdi.analysis.network import CREATE_EXTENSION
    from sdi.core.cluster import Cluster
    from sdi.core.errors import ConfigError
    from sdi.core.settings import get_settings

    if get_settings().database_url:
        raise ConfigError(
            "SDI_DATABASE_URL is set: sdi has no superuser login there",
            f"ask the database administrator to run `{CREATE_EXTENSION}`",
        )
    Cluster().start()
    admin = Cluster().admin_url()
    if admin is None:  # start() writes it: only a damaged $SDI_HOME lacks it
        raise ConfigError("the embedded cluster has no superuser login recorded", "run `sdi db start` again")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(CREATE_EXTENSION)
    out.print("pgRouting is enabled")
