"""OGC API Processes for the analysis, at /analysis/ behind the nginx front: its own process, never the API's
read-only gunicorn workers. The process holds the owner's login (it writes results), answers on a unix socket,
and runs queued jobs in one thread of its own, so a catalogue reload of the API never kills a job.

    GET  /analysis/, /analysis/conformance                      its landing page and conformance classes
    GET  /analysis/processes                                    the list (one process: access-standards)
    GET  /analysis/processes/access-standards                   its description and inputs
    POST /analysis/processes/access-standards/execution         {"inputs": {...}}: waits up to 25 s for the
                                                                results (200); with `Prefer: respond-async`
                                                                (or a longer run) 201 + Location, a job
    GET  /analysis/jobs                                         the newest 100 jobs' status
    GET  /analysis/jobs/{id}, /analysis/jobs/{id}/results       status; summary and network report
    GET  /analysis/jobs/{id}/report, .../summary.csv            the HTML report (map and table); the summary

Executing needs a token (`Authorization: Bearer ...`) valid for the city (or for every city).
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from sdi.analysis import documents, report, runs
from sdi.analysis.documents import PROCESS
from sdi.analysis.standards import parse
from sdi.core import tokens
from sdi.core.catalogue import open_catalogue
from sdi.core.errors import SdiError, first_line
from sdi.core.unix_wsgi import serve_unix

logger = logging.getLogger(__name__)
_MAX_BODY = 64 * 1024
_JOBS_LISTED = 100  # the newest; older jobs stay readable at /analysis/jobs/{id}
#: How long a synchronous execution waits for its run (the front's proxy_read_timeout is 35 s).
SYNC_WAIT_S = 25.0


@dataclass
class AnalysisService:
    """The fields sdi.server.services.Service reads (duck-typed: sdi.analysis may import sdi.core only)."""

    name: str
    command: list[str]
    nginx: str
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    as_user: bool = False  # it holds the owner's login: not the API's OS user
    on_change: Callable[[], None] | None = None


def service(ctx: Any) -> AnalysisService | None:
    """The analysis job runner and its process API; None when pgRouting is missing (said in the log)."""
    from sdi.analysis.network import pgrouting_version

    try:
        with open_catalogue(ctx.settings) as conn:
            pgrouting_version(conn)
    except SdiError as exc:
        logger.error("analysis (/analysis/processes) is off: %s. Fix: %s", exc.message, exc.fix)
        return None
    sock = ctx.run_dir / "analysis.sock"
    # /processes and /jobs, the paths OGC API Processes gives at the API's root, reach the same service
    nginx = "\n".join(
        f"        location {public} {{ proxy_pass http://unix:{sock}:{inside}; proxy_set_header Host"
        " $http_host; proxy_read_timeout 35s; }"
        for public, inside in (
            ("/analysis/", "/analysis/"),
            ("/processes", "/analysis/processes"),
            ("/jobs", "/analysis/jobs"),
        )
    )
    env = {"SDI_HOME": str(ctx.settings.home_abs)}
    if ctx.settings.database_url:
        env["SDI_DATABASE_URL"] = ctx.settings.database_url
    return AnalysisService("analysis", [sys.executable, "-m", "sdi.analysis.service", str(sock)], nginx, env=env)


def app(environ: dict, start_response: Callable) -> list[bytes]:
    """The WSGI application: every answer JSON, every failure a 4xx with one line, never a traceback."""
    try:
        status, body, headers = _route(environ)
    except SdiError as exc:
        status, body, headers = 400, documents.problem(exc.message, 400, exc.fix), {}
    except (psycopg.Error, ValueError) as exc:
        logger.error("analysis request failed: %s", first_line(exc))
        status, body, headers = 503, documents.problem("the analysis service cannot answer now", 503, "try again"), {}
    reason = documents.REASONS.get(status, "Error")
    if isinstance(body, str):  # the HTML report or a CSV: its type is in headers
        start_response(f"{status} {reason}", [*headers.items()])
        return [body.encode()]
    start_response(f"{status} {reason}", [("Content-Type", "application/json"), *headers.items()])
    return [json.dumps(body, ensure_ascii=False, default=str).encode()]


def _route(environ: dict[str, Any]) -> tuple[int, dict[str, Any] | str, dict[str, str]]:
    path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
    parts = [p for p in path.split("/") if p][1:]  # without "analysis"
    if not parts:
        return 200, documents.landing(), {}
    if parts == ["conformance"]:
        return 200, {"conformsTo": documents.CONFORMANCE}, {}
    if parts == ["processes"]:
        return 200, documents.process_list(), {}
    if parts[:1] == ["processes"] and parts[1:2] != [PROCESS]:
        return 404, documents.exception("no-such-process", f"no process {parts[1]!r}; see /processes", 404), {}
    if parts == ["processes", PROCESS]:
        return 200, documents.description(), {}
    if parts == ["processes", PROCESS, "execution"]:
        if method != "POST":
            return 405, documents.problem("POST the inputs to execute", 405), {"Allow": "POST"}
        return _execute(environ)
    if parts == ["jobs"]:
        with open_catalogue() as conn:
            return 200, documents.job_list(runs.recent(conn, _JOBS_LISTED)), {}
    job = parts[1] if len(parts) in (2, 3) and parts[0] == "jobs" else ""
    if job.isascii() and job.isdigit() and parts[2:] in ([], ["results"], ["report"], ["summary.csv"]):
        return _job(int(job), parts[2] if parts[2:] else "")
    return 404, documents.problem("not found", 404, "see /analysis/processes"), {}


def _job(run_id: int, what: str) -> tuple[int, dict[str, Any] | str, dict[str, str]]:
    """A job's status, results, HTML report or summary CSV."""
    with open_catalogue() as conn:
        row = runs.status(conn, run_id)
    if row is None:
        return 404, documents.exception("no-such-job", f"no job {run_id}", 404, "see /analysis/jobs"), {}
    if not what:
        return 200, documents.status_info(row), {}
    if row["status"] == "failed":
        return 400, documents.exception("job-failed", f"job {run_id} failed: {row['message']}", 400), {}
    if row["status"] != "successful":
        return 404, documents.exception("result-not-ready", f"job {run_id} is {row['status']}", 404), {}
    if what == "results":
        return 200, documents.results(row), {}
    return _report(run_id, what)


def _report(run_id: int, what: str) -> tuple[int, dict[str, Any] | str, dict[str, str]]:
    """A successful run's HTML report (with its own Content-Security-Policy) or summary CSV: _job checked it."""
    try:
        with open_catalogue() as conn:
            data = report.collect(conn, run_id)
    except LookupError:  # deleted since _job looked
        return 404, documents.exception("no-such-job", f"no successful job {run_id}", 404), {}
    if what == "summary.csv":
        return (
            200,
            report.summary_csv(data),
            {
                "Content-Type": "text/csv; charset=utf-8",
                "Content-Disposition": f'attachment; filename="access_{run_id}.csv"',
            },
        )
    page, csp = report.report_html(data)
    return (
        200,
        page,
        {
            "Content-Type": "text/html; charset=utf-8",
            "Content-Security-Policy": csp,
            "X-Content-Type-Options": "nosniff",
        },
    )


def _execute(environ: dict[str, Any]) -> tuple[int, dict[str, Any] | str, dict[str, str]]:
    """Queue a run; answer with its results (synchronous), or at once with the job when `Prefer: respond-async`.

    The process offers both modes, so a request without a preference is executed synchronously
    (/req/core/process-execute-default-execution-mode, C). A synchronous request whose run takes longer than
    SYNC_WAIT_S is answered as a job after all (201 and Location), rather than held past the front's timeout.
    """
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length > _MAX_BODY:
        return 413, documents.problem(f"the request body is over {_MAX_BODY} bytes", 413), {}
    try:
        body = json.loads(environ["wsgi.input"].read(length) or b"{}")
    except json.JSONDecodeError:
        return 400, documents.problem("the body is not JSON", 400, 'send {"inputs": {"city": "2699011"}}'), {}
    std = parse(body.get("inputs") if isinstance(body, dict) else None)
    token = environ.get("HTTP_AUTHORIZATION", "").removeprefix("Bearer ").strip()
    with open_catalogue() as conn:
        grant = tokens.grant(conn, token)
        if grant is None:
            fix = "send Authorization: Bearer TOKEN, a token of scope analyse"
            return 401, documents.problem("executing a process needs a token", 401, fix), {}
        if grant.scope != "analyse":
            detail = f"the token's scope is {grant.scope!r}: executing a process needs the analyse scope"
            return 403, documents.problem(detail, 403, "sdi token add NAME --city TERYT --scope analyse"), {}
        if grant.city is not None and grant.city != std.city:
            return 403, documents.problem(f"the token is for city {grant.city}, not {std.city}", 403), {}
        run_id = runs.submit(conn, std)
    location = f"/analysis/jobs/{run_id}"
    prefer = environ.get("HTTP_PREFER", "")
    if "respond-async" not in prefer:
        with open_catalogue() as conn:
            row = _wait(conn, run_id, SYNC_WAIT_S)
        applied = {"Preference-Applied": "respond-sync"} if "respond-sync" in prefer else {}
        if row["status"] == "successful":
            return 200, documents.results(row), {"Location": location, **applied}
        if row["status"] == "failed":
            return 400, documents.exception("job-failed", f"job {run_id} failed: {row['message']}", 400), {}
    queued = {"run_id": run_id, "status": "accepted"}
    applied = {"Preference-Applied": "respond-async"} if "respond-async" in prefer else {}
    return 201, documents.status_info(queued), {"Location": location, **applied}


def _wait(conn: psycopg.Connection, run_id: int, seconds: float) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        row = runs.status(conn, run_id)
        conn.rollback()  # a fresh snapshot on the next look
        if row is None:
            raise LookupError(f"run {run_id} vanished")  # it was just inserted: only a DELETE by hand does this
        if row["status"] in ("successful", "failed") or time.monotonic() > deadline:
            return row
        time.sleep(0.2)


def main(sock: str) -> None:
    """Serve the process API on `sock` and run queued jobs in a thread, until stopped."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    threading.Thread(target=_jobs, daemon=True, name="analysis-jobs").start()
    serve_unix(sock, app)


def _jobs(poll_s: float = 1.0) -> None:
    """Run queued jobs for ever. Each pass opens a fresh connection (runs.work(once=True)), so that PostgreSQL
    restarting or a replica switch costs one failed pass, not the thread: a long-lived runs.work() would die
    with its connection and leave the service queuing jobs nobody runs."""
    while True:
        try:
            runs.work(once=True)
        except (SdiError, psycopg.Error) as exc:  # the database away for a moment: try again at the next poll
            logger.error("the analysis job runner: %s", first_line(exc))
        time.sleep(poll_s)


if __name__ == "__main__":
    main(sys.argv[1])
