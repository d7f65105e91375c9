"""What PostgreSQL alone takes to produce one bbox page: the floor under serve_bench's "bbox ~1 km²".

The provider (sdi.server.provider) builds one bbox page in-process over the reader's connection, and every
statement it sends is recorded with its values bound (psycopg's client-side mogrify). pgbench then replays the
statements of one page as one transaction, with as many clients as wrk's connections: its rate is the most
requests per second the database can answer, with no HTTP, no Python and no JSON at all (issue 17: "bring
the page near what PostgreSQL alone takes to produce it; measure that floor too, with psql, in the same run").

The provider's second page is the one replayed: the first also reads the theme's columns and its current
loads, which a running worker keeps between requests.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import tempfile

import psycopg
from psycopg.rows import dict_row

from sdi.core.cluster_setup import _pg_bin
from sdi.core.roles import ensure_reader
from sdi.core.settings import CRS84, get_settings
from sdi.server import provider
from sdi.server.bbox import Region


class _Recording:
    """A real connection that keeps each statement it runs, as SQL text with its values in place."""

    def __init__(self, conn: psycopg.Connection):
        self.conn, self.statements = conn, []

    def execute(self, query, params=None):
        text = psycopg.ClientCursor(self.conn).mogrify(query, params)
        if text.strip():
            self.statements.append(text)
        return self.conn.execute(query, params)


class _Pool:
    def __init__(self, conn: _Recording):
        self.conn = conn

    @contextlib.contextmanager
    def connection(self, timeout: float | None = None):
        yield self.conn


def page_statements(url: str, theme: str, bbox: list[float], limit: int = 100) -> tuple[str, list[str], int]:
    """(the reader's URL, the statements of one bbox page in CRS84 as the provider sends them, its features).

    Run it while no `sdi serve` uses the database: making the reader's login gives it a new password.
    """
    with psycopg.connect(url, autocommit=True) as owner:
        reader = ensure_reader(owner, url)
    with psycopg.connect(reader, autocommit=True, row_factory=dict_row, prepare_threshold=None) as conn:
        recording = _Recording(conn)
        original = provider.pool
        provider.pool = lambda: _Pool(recording)  # type: ignore[assignment]
        try:
            provider.theme_fields.cache_clear()
            prov = provider.SdiProvider({"name": "sdi", "type": "feature", "data": {"theme": theme}})
            region = Region.of(bbox, CRS84)
            prov.query(limit=limit, bbox=region)
            recording.statements.clear()
            page = prov.query(limit=limit, bbox=region)
        finally:
            provider.pool = original  # type: ignore[assignment]
            provider.theme_fields.cache_clear()
    return reader, recording.statements, len(page["features"])


def pgbench(url: str, statements: list[str], clients: int, seconds: float) -> dict:
    """pgbench's rate for the statements as one transaction, with `clients` connections on 2 threads."""
    binary = str(_pg_bin(get_settings()) / "pgbench")  # beside the cluster's own pg_ctl, as backup's pg_dump
    with tempfile.NamedTemporaryFile("w", suffix=".sql") as script:
        # one statement a line: pgbench ends a command at a semicolon at the end of a line
        script.write("".join(" ".join(s.split()) + ";\n" for s in statements))
        script.flush()
        text = subprocess.run(
            [binary, "-n", "-M", "simple", "-f", script.name, "-c", str(clients), "-j", "2"]
            + ["-T", str(max(1, int(seconds))), url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    tps = float(re.search(r"tps = ([\d.]+)", text).group(1))
    latency = re.search(r"latency average = ([\d.]+) ms", text)
    return {"requests_per_s": round(tps, 2), "latency_ms": float(latency.group(1)) if latency else None}
