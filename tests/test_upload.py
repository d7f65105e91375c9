"""Remote loading (issue 22) through the real nginx front of `sdi serve`: the upload service at /uploads.

One server for the module (starting nginx, gunicorn and the services takes a while on 2 cores), with
SDI_MAX_UNZIPPED_MB=2 so that an oversize body and a zip bomb are cheap to make. Every refusal is
checked to change nothing: the loads table and the published version stay as they were.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import tempfile
import time
import zipfile
from pathlib import Path

import psycopg
import pytest
import requests

from sdi.core import tokens
from sdi.core.sample import SAMPLE_CITY, write_sample

from conftest import SDI, _stop_group, free_port, fresh_database, run_sdi, wait_for_http

OTHER_CITY = "1465011"


@pytest.fixture(scope="module")
def remote(server_url):
    """(base URL, owner's db URL, {token kind: token}, sample files) of one running `sdi serve`."""
    # Not under pytest's basetemp: every pytest session that starts (another engineer's, CI's) chmods
    # /tmp/pytest-of-USER to 700, which resets the ACL mask that lets the workers' OS user pass, and a
    # reload after our first load then finds config.yml unreadable (seen: gunicorn exit 3).
    tmp = Path(tempfile.mkdtemp(prefix="sdi-upload-test-"))
    with fresh_database(server_url) as db_url, contextlib.ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, tmp, True)
        with psycopg.connect(db_url) as conn:
            secrets = {
                "city": tokens.add(conn, "gmina-load", SAMPLE_CITY, "load"),
                "other": tokens.add(conn, "warszawa-load", OTHER_CITY, "load"),
                "read": tokens.add(conn, "gmina-read", SAMPLE_CITY),
                "revoked": tokens.add(conn, "old-load", SAMPLE_CITY, "load"),
            }
            tokens.revoke(conn, "old-load")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SDI_")}
        env.update(SDI_DATABASE_URL=db_url, SDI_HOME=str(tmp / "home"), SDI_MAX_UNZIPPED_MB="2")
        (tmp / "home").mkdir()
        port, log_path = free_port(), tmp / "serve.log"
        with open(log_path, "w") as log:
            proc = subprocess.Popen(
                [SDI, "serve", "--port", str(port), "--workers", "1"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_for_http(f"{base}/collections?f=json", proc, log=log_path)
            wait_for_http(f"{base}/uploads/", proc, log=log_path)
            yield base, db_url, secrets, write_sample(tmp / "sample")
        finally:
            _stop_group(proc)


def _state(db_url: str) -> list[tuple]:
    """Every load with its city, theme and whether it is current: what a refusal must leave alone."""
    with psycopg.connect(db_url) as conn:
        return conn.execute(
            "SELECT d.load_id, d.city, d.theme, l.load_id IS NOT NULL FROM sdi.loads d"
            " LEFT JOIN sdi.layers l ON l.load_id = d.load_id ORDER BY d.load_id"
        ).fetchall()


def _push(base: str, token: str | None, path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {"SDI_TOKEN": token} if token else {}
    return run_sdi("load", str(path), "--server", base, *args, env=env, timeout=300)


def _post(base: str, token: str, body: bytes, **params: str) -> requests.Response:
    return requests.post(
        f"{base}/uploads/load", params=params, data=body, timeout=120, headers={"Authorization": f"Bearer {token}"}
    )


def test_a_city_token_loads_its_own_city_and_prints_the_local_report(remote, tmp_path):
    base, db_url, secrets, sample = remote
    report = tmp_path / "report.json"
    done = _push(
        base, secrets["city"], sample["roads"], "--city", SAMPLE_CITY, "--theme", "roads", "--report", str(report)
    )
    assert done.returncode == 0, done.stderr
    assert "features of roads for city 2699011 from drogi.shp" in done.stdout
    data = json.loads(report.read_text())
    assert data["city"] == SAMPLE_CITY and data["features_loaded"] > 0 and data["source"]["path"] == "drogi.zip"
    # the same keys as a local `sdi load --report`
    local = tmp_path / "local.json"
    assert (
        run_sdi(
            "load",
            str(sample["buildings"]),
            "--city",
            SAMPLE_CITY,
            "--theme",
            "buildings",
            "--dry-run",
            "--report",
            str(local),
            env={"SDI_DATABASE_URL": db_url},
        ).returncode
        == 0
    )
    assert set(json.loads(local.read_text())) == set(data)
    assert (data["load_id"], SAMPLE_CITY, "roads", True) in _state(db_url)
    # a theme's first load makes a new collection: sdi serve sees the catalogue change within its 2 s poll and
    # reloads its workers, so the collection appears a moment after the load
    deadline = time.monotonic() + 30
    while True:
        items = requests.get(f"{base}/collections/roads/items?f=json&limit=1", timeout=30).json()
        if "numberMatched" in items or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert items["numberMatched"] == data["features_loaded"], items


def test_other_city_read_missing_and_revoked_tokens_are_refused_and_change_nothing(remote):
    base, db_url, secrets, sample = remote
    before = _state(db_url)
    body = sample["public_services"].read_bytes()
    cases = [
        (secrets["other"], 403, "loads city 1465011, not 2699011"),
        (secrets["read"], 403, "scope read"),
        ("", 401, "no token"),
        (secrets["revoked"], 401, "live token"),
        ("sdi_guessed", 401, "live token"),
    ]
    for token, status, words in cases:
        answer = _post(base, token, body, city=SAMPLE_CITY, theme="public_services", name="uslugi.geojson")
        assert answer.status_code == status and words in answer.json()["detail"], (token[:8], answer.text)
    refused = _push(
        base, secrets["other"], sample["public_services"], "--city", SAMPLE_CITY, "--theme", "public_services"
    )
    assert refused.returncode == 2 and "loads city 1465011, not 2699011" in refused.stderr
    assert "Traceback" not in refused.stderr
    missing = _push(base, None, sample["public_services"], "--city", SAMPLE_CITY, "--theme", "public_services")
    assert missing.returncode == 2 and "SDI_TOKEN" in missing.stderr
    assert _state(db_url) == before


def test_hostile_names_oversize_bodies_and_bombs_are_refused_and_change_nothing(remote, tmp_path):
    base, db_url, secrets, sample = remote
    before = _state(db_url)
    body = sample["public_services"].read_bytes()
    for name in (
        "../../../tmp/evil.geojson",
        "..",
        "/etc/passwd.geojson",
        "a/b.geojson",
        ".hidden.geojson",
        "x\\..\\y.geojson",
        "uslugi.exe",
    ):
        answer = _post(base, secrets["city"], body, theme="public_services", name=name)
        assert answer.status_code == 400, (name, answer.text)
    assert not Path("/tmp/evil.geojson").exists()
    big = _post(base, secrets["city"], b"x" * (3 * 1024 * 1024), theme="public_services", name="big.geojson")
    assert big.status_code == 413 and big.headers["Content-Type"].startswith("application/json")
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("uslugi.geojson", b" " * (50 * 1024 * 1024))
    assert len(bomb.getvalue()) < 1024 * 1024  # small on the wire, 50 MB unpacked
    answer = _post(base, secrets["city"], bomb.getvalue(), theme="public_services", name="bomb.zip")
    assert answer.status_code == 422 and "unpacks to" in answer.json()["detail"], answer.text
    assert str(tmp_path.parent) not in answer.text and "/uploads/" not in answer.text  # no server path
    slip = io.BytesIO()
    with zipfile.ZipFile(slip, "w") as zf:
        zf.writestr("../../uslugi.geojson", body)
    answer = _post(base, secrets["city"], slip.getvalue(), theme="public_services", name="slip.zip")
    assert answer.status_code == 422 and ".." in answer.json()["fix"], answer.text
    assert _post(base, secrets["city"], body, theme="no_such_theme", name="u.geojson").status_code == 400
    assert _state(db_url) == before


def test_a_refused_load_keeps_the_published_version_and_names_its_kept_one(remote, tmp_path):
    base, db_url, secrets, sample = remote
    first = _push(base, secrets["city"], sample["public_services"], "--city", SAMPLE_CITY, "--theme", "public_services")
    assert first.returncode == 0, first.stderr
    current = [s for s in _state(db_url) if s[2] == "public_services" and s[3]]
    shrunk = tmp_path / "jedna.geojson"
    whole = json.loads(sample["public_services"].read_text())
    shrunk.write_text(json.dumps({**whole, "features": whole["features"][:1]}))
    report = tmp_path / "refused.json"
    refused = _push(
        base, secrets["city"], shrunk, "--city", SAMPLE_CITY, "--theme", "public_services", "--report", str(report)
    )
    assert refused.returncode == 5, refused.stderr
    kept = json.loads(report.read_text())["load_id"]
    assert kept is not None and f"kept as load {kept}, not current" in refused.stderr
    assert [s for s in _state(db_url) if s[2] == "public_services" and s[3]] == current
    assert (kept, SAMPLE_CITY, "public_services", False) in _state(db_url)
    # its rejects come by the same command, and only the token's city's loads are readable
    shown = run_sdi(
        "rejects",
        "--city",
        SAMPLE_CITY,
        "--theme",
        "public_services",
        "--load",
        str(kept),
        "--server",
        base,
        env={"SDI_TOKEN": secrets["city"]},
    )
    assert shown.returncode == 0 and f"load {kept} rejected nothing" in shown.stdout, shown.stderr
    other = requests.get(
        f"{base}/uploads/rejects",
        params={"theme": "public_services", "load": str(kept)},
        headers={"Authorization": f"Bearer {secrets['other']}"},
        timeout=30,
    )
    assert other.status_code == 404
