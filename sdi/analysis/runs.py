"""The lifecycle of an analysis run: queued (by the CLI or the process API), claimed and run by a job runner
with the owner's login, all its rows written in one transaction, then marked successful or failed with a
one-line reason. The API's read-only workers only ever insert into the queue through this module's caller."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from sdi.analysis import access, network
from sdi.analysis.standards import Standards
from sdi.core import sqlfiles
from sdi.core.catalogue import open_catalogue
from sdi.core.db import scalar
from sdi.core.errors import SdiError, first_line
from sdi.core.settings import Settings

logger = logging.getLogger(__name__)


def submit(conn: psycopg.Connection, std: Standards) -> int:
    """Queue a run; the job runner (or run_now) picks it up. Returns its run_id."""
    with conn.transaction():
        run_id = scalar(
            conn.execute(
                "INSERT INTO analysis.runs (city, params) VALUES (%s, %s) RETURNING run_id",
                [std.city, Jsonb(std.as_dict())],
            )
        )
        conn.execute("NOTIFY sdi_analysis")
    return int(run_id)


def claim_next(conn: psycopg.Connection) -> int | None:
    """Mark the oldest queued run as running and return it (SKIP LOCKED: two runners never take the same)."""
    with conn.transaction():
        row = conn.execute(
            "UPDATE analysis.runs SET status = 'running', started_at = now() WHERE run_id = ("
            " SELECT run_id FROM analysis.runs WHERE status = 'accepted' ORDER BY run_id"
            " FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING run_id"
        ).fetchone()
    return row[0] if row else None


def claim_next_id(conn: psycopg.Connection, run_id: int) -> None:
    """Claim one given run (the CLI runs its own run at once instead of waiting for a runner)."""
    with conn.transaction():
        conn.execute(
            "UPDATE analysis.runs SET status = 'running', started_at = now() WHERE run_id = %s AND status = 'accepted'",
            [run_id],
        )


def execute(conn: psycopg.Connection, run_id: int) -> dict:
    """Run a claimed run: network, distances, summary in one transaction; a failure is recorded, then raised."""
    # Read in a transaction block of its own: a bare SELECT would leave an implicit transaction open, and the
    # run's `with conn.transaction()` below would then only nest a savepoint in it and never commit.
    with conn.transaction():
        params = scalar(conn.execute("SELECT params FROM analysis.runs WHERE run_id = %s", [run_id]))
    std = Standards(**params)
    started = time.perf_counter()
    try:
        with conn.transaction():
            network.pgrouting_version(conn)
            t = time.perf_counter()
            net = network.build(
                conn, run_id, std.city, snap_m=std.snap_m, margin_m=std.margin_m, units=std.units, planned=std.planned
            )
            net["build_s"] = round(time.perf_counter() - t, 3)
            done = access.compute(conn, run_id, std)
            t = time.perf_counter()
            psycopg.ClientCursor(conn).execute(
                sqlfiles.load("analysis/summary.sql").format(**network.sources(conn)),
                {"run": run_id, "unit": std.units, "city": std.city},
            )
            done["timings"]["summary_s"] = round(time.perf_counter() - t, 3)
            summary = {**summarise(conn, run_id), **done, "seconds": round(time.perf_counter() - started, 3)}
            conn.execute(
                "UPDATE analysis.runs SET status = 'successful', finished_at = now(), network = %s,"
                " summary = %s WHERE run_id = %s",
                [Jsonb(net), Jsonb(summary), run_id],
            )
    except (SdiError, psycopg.Error) as exc:
        message = exc.message if isinstance(exc, SdiError) else first_line(exc)
        conn.execute(
            "UPDATE analysis.runs SET status = 'failed', finished_at = now(), message = %s WHERE run_id = %s",
            [message, run_id],
        )
        conn.commit()
        raise
    return {"run_id": run_id, "network": net, "summary": summary}


def summarise(conn: psycopg.Connection, run_id: int) -> dict[str, Any]:
    """The shares of units (and of address points) meeting each standard: for the gmina, each precinct and each
    planning zone (worst first), the ten worst-served areas, and each facility's catchment."""
    cols = (
        "parcels, school, green_3ha, green_20ha, all_standards, addresses, addresses_ok, unreachable,"
        " school_network_only, school_straight_only"
    )
    cur = conn.cursor(row_factory=dict_row)

    def level(name: str, key: str, limit: int = 50) -> list[dict[str, Any]]:
        rows = cur.execute(
            f"SELECT area AS {key}, {cols} FROM analysis.area_summary WHERE run_id = %s"  # noqa: S608
            " AND level = %s ORDER BY all_standards, area LIMIT %s",
            [run_id, name, limit],
        ).fetchall()
        return [_rounded(r) for r in rows]

    worst = cur.execute(
        f"SELECT level, area, {cols} FROM analysis.area_summary WHERE run_id = %s"  # noqa: S608
        " AND level <> 'gmina' ORDER BY all_standards, unreachable DESC, parcels DESC, area LIMIT 10",
        [run_id],
    ).fetchall()
    return {
        "gmina": level("gmina", "city"),
        "precincts": level("precinct", "precinct"),
        "plan_zones": level("plan_zone", "zone"),
        "worst": [_rounded(r) for r in worst],
        "catchments": catchments(cur, run_id),
    }


def catchments(cur: psycopg.Cursor[Any], run_id: int) -> list[Any]:
    """Each facility's catchment in a run (the summary and the report): its units and address points."""
    return cur.execute(
        "SELECT kind, facility_fid, name, units, addresses FROM analysis.facility_catchment"
        " WHERE run_id = %s ORDER BY kind, addresses DESC, facility_fid",
        [run_id],
    ).fetchall()


def _rounded(row: dict[str, Any]) -> dict[str, Any]:
    return {
        k: round(float(v), 4) if hasattr(v, "as_integer_ratio") and not isinstance(v, int) else v
        for k, v in row.items()
    }


_STATUS = "SELECT run_id, city, status, params, network, summary, message, created_at, started_at, finished_at"


def status(conn: psycopg.Connection, run_id: int) -> dict | None:
    """A run's row as the process API and the CLI show it, or None."""
    return (
        conn.cursor(row_factory=dict_row)
        .execute(f"{_STATUS} FROM analysis.runs WHERE run_id = %s", [run_id])
        .fetchone()
    )


def recent(conn: psycopg.Connection, limit: int) -> list[dict]:
    """The newest runs' rows, newest first (the process API's job list)."""
    query = f"{_STATUS} FROM analysis.runs ORDER BY run_id DESC LIMIT %s"
    return conn.cursor(row_factory=dict_row).execute(query, [limit]).fetchall()


def work(
    settings: Settings | None = None,
    *,
    once: bool = False,
    idle: Callable[[], bool] = lambda: True,
    poll_s: float = 1.0,
) -> int:
    """The job runner: claim and run queued runs until idle() says stop (once: until the queue is empty)."""
    done = 0
    with open_catalogue(settings) as conn:
        while True:
            run_id = claim_next(conn)
            if run_id is None:
                if once or not idle():
                    return done
                time.sleep(poll_s)
                continue
            try:
                execute(conn, run_id)
            except (SdiError, psycopg.Error) as exc:
                logger.error("analysis run %s failed: %s", run_id, first_line(exc))
            conn.commit()  # nothing of a run may wait for the runner to stop
            done += 1
