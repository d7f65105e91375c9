"""A run's HTML report, CSV and JSON summaries: by the CLI and through the process API, offline (Leaflet inlined,
no URL to fetch), and with every value from the database escaped, tried with a parcel id that is markup."""

from __future__ import annotations

import csv
import io
import json
import re

import test_analysis
from test_analysis import CITY, load_town

from sdi.analysis import report, runs
from sdi.analysis.standards import parse
from sdi.core.catalogue import open_catalogue

pgr_settings = test_analysis.pgr_settings  # the fixture: the test database with pgRouting
EVIL = '<img src=x onerror="alert(1)">&</script><script>alert(2)</script>'


def _run_with_evil_names(settings) -> int:
    """One run of the town, then a parcel id and a precinct code that are markup, as a hostile source might hold."""
    with open_catalogue(settings) as conn:
        run_id = runs.submit(conn, parse({"city": CITY}))
        runs.claim_next_id(conn, run_id)
        runs.execute(conn, run_id)
        conn.execute(
            "UPDATE analysis.parcel_access SET parcel_id = %s WHERE run_id = %s AND parcel_id = 'P3'", [EVIL, run_id]
        )
        conn.execute("UPDATE analysis.area_summary SET area = %s WHERE run_id = %s AND area = '0002'", [EVIL, run_id])
        conn.commit()
    return run_id


def test_the_report_is_offline_escaped_and_holds_the_summary(pgr_settings, tmp_path):
    load_town(tmp_path / "town", pgr_settings)
    run_id = _run_with_evil_names(pgr_settings)
    with open_catalogue(pgr_settings) as conn:
        data = report.collect(conn, run_id)
    page, csp = report.report_html(data)
    assert "<img" not in page and "alert(2)</script>" not in page and 'onerror="' not in page
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page  # the table cell, escaped
    assert "\\u003cimg src=x" in page  # the map's data block, \\u-escaped
    scripts = re.findall(r"<script([^>]*)>", page)
    assert len(scripts) == 3 and all("src=" not in s for s in scripts)  # Leaflet inlined, nothing fetched
    nonce = re.search(r"'nonce-([^']+)'", csp).group(1)
    assert sum(f'nonce="{nonce}"' in s for s in scripts) == 2 and 'type="application/json"' in scripts[1]
    markup = re.sub(r"<script[^>]*>.*?</script>", "", page, flags=re.S)  # Leaflet's own text names its site
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", markup) and "<link" not in markup
    assert "L.map(" in page and "<td>gmina</td>" in page and "<td>25.0 %</td>" in page  # school: P3 of 4
    rows = list(csv.DictReader(io.StringIO(report.summary_csv(data))))
    gmina = next(r for r in rows if r["level"] == "gmina")
    assert gmina["parcels"] == "4" and float(gmina["school"]) == 0.25 and gmina["unit"] == "parcels"
    assert {r["area"] for r in rows} == {CITY, "0001", EVIL}  # the CSV keeps the value as it is
    summary = report.summary_json(data)
    assert summary["network"]["components"] == 1 and len(summary["areas"]) == 3
    json.dumps(summary)  # serialisable as it is


def test_the_cli_writes_the_report_folder(pgr_settings, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from sdi.cli.main import cli
    from sdi.core.settings import get_settings

    load_town(tmp_path / "town", pgr_settings)
    monkeypatch.setenv("SDI_DATABASE_URL", pgr_settings.database_url)
    monkeypatch.setenv("SDI_HOME", str(pgr_settings.home))
    get_settings.cache_clear()
    try:
        done = CliRunner().invoke(cli, ["analysis", "access", "--city", CITY, "--report", str(tmp_path / "r")])
        assert done.exit_code == 0, done.output
        assert {p.name for p in (tmp_path / "r").iterdir()} == {"report.html", "summary.csv", "summary.json"}
        run_id = json.loads((tmp_path / "r" / "summary.json").read_text())["run_id"]
        again = CliRunner().invoke(cli, ["analysis", "report", str(run_id), "--out", str(tmp_path / "again")])
        assert again.exit_code == 0 and (tmp_path / "again" / "report.html").stat().st_size > 100_000
    finally:
        get_settings.cache_clear()


def test_the_process_api_serves_the_report_with_its_policy(pgr_settings, tmp_path, monkeypatch):
    from sdi.analysis import service
    from sdi.core.settings import get_settings

    load_town(tmp_path / "town", pgr_settings)
    run_id = _run_with_evil_names(pgr_settings)
    monkeypatch.setenv("SDI_DATABASE_URL", pgr_settings.database_url)
    get_settings.cache_clear()

    def get(path: str) -> tuple[str, dict, bytes]:
        seen: dict = {}
        body = b"".join(
            service.app(
                {"REQUEST_METHOD": "GET", "PATH_INFO": path},
                lambda status, headers: seen.update(status=status, headers=dict(headers)),
            )
        )
        return seen["status"], seen["headers"], body

    try:
        status, headers, body = get(f"/analysis/jobs/{run_id}/report")
        assert status.startswith("200") and headers["Content-Type"].startswith("text/html")
        assert "script-src 'nonce-" in headers["Content-Security-Policy"] and b"<img" not in body
        status, headers, body = get(f"/analysis/jobs/{run_id}/summary.csv")
        assert status.startswith("200") and headers["Content-Type"].startswith("text/csv")
        assert body.decode().splitlines()[0].startswith("level,area,unit,parcels")
        assert get("/analysis/jobs/999999/report")[0].startswith("404")
    finally:
        get_settings.cache_clear()
