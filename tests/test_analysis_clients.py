"""The analysis's OGC API Processes through OWSLib's processes client (owslib.ogcapi.processes.Processes), against
`sdi serve` with its job runner (/analysis/ behind nginx): list and describe the process, execute it sync and
async with a token, poll the job, read its results and report; without a valid token, or with another city's,
the request is refused with 401/403, never a 5xx. (tests/test_analysis.py drives the same WSGI app in-process.)

The hand-made town of tests/test_analysis.py: four parcels, P3 the only one within 1,500 m of the school.
"""

from __future__ import annotations

import time

import pytest
import requests
import test_analysis
from owslib.ogcapi.processes import Processes
from pygeoapi.openapi import validate_openapi_document
from test_analysis import CITY, load_town

from sdi.core import tokens
from sdi.core.catalogue import open_catalogue

from conftest import running_api

pgr_settings = test_analysis.pgr_settings  # the fixture: the test database with pgRouting
PROCESS = "access-standards"


def _client(base: str, token: str | None = None) -> Processes:
    """OWSLib's client of the process API; its headers copied, since OWSLib 0.35 shares one dict among clients."""
    client = Processes(f"{base}/analysis")
    client.headers = {k: v for k, v in client.headers.items() if k not in ("Authorization", "Prefer")}
    if token:
        client.headers["Authorization"] = f"Bearer {token}"
    return client


def _job(client: Processes, job_id: str, seconds: float = 90.0) -> dict:
    """Poll the job until it ends (OWSLib 0.35 has no jobs API: its request helper reads /jobs/{id})."""
    deadline = time.monotonic() + seconds
    while True:
        job = client._request(path=f"jobs/{job_id}")
        if job["status"] in ("successful", "failed") or time.monotonic() > deadline:
            return job
        time.sleep(0.5)


def test_owslib_lists_describes_and_executes_sync_and_async(pgr_settings, db_url, tmp_path):
    load_town(tmp_path / "town", pgr_settings)
    with open_catalogue(pgr_settings) as conn:
        token = tokens.add(conn, "planner", scope="analyse")
        elsewhere = tokens.add(conn, "warszawa", city="1465011", scope="analyse")
        reader = tokens.add(conn, "reader", city=CITY)  # the city's read token: not a token to analyse with
        conn.commit()
    with running_api(db_url, tmp_path / "home") as base:
        client = _client(base, token)
        assert [p["id"] for p in client.processes()] == [PROCESS]
        described = client.process(PROCESS)
        assert {"city", "units", "optional", "planned"} <= set(described["inputs"])
        assert set(described["jobControlOptions"]) == {"sync-execute", "async-execute"}

        done = client.execute(PROCESS, {"city": CITY, "town": "rural"})  # Prefer: respond-sync
        assert done["status"] == "successful", done
        assert done["summary"]["gmina"][0]["parcels"] == 4 and done["inputs"]["town"] == "rural"
        assert client.response_headers["Location"] == f"/analysis/jobs/{done['jobID']}"

        queued = client.execute(PROCESS, {"city": CITY, "optional": {"kindergarten": 800}}, async_=True)
        assert queued["status"] == "accepted" and client.response_headers["Location"].endswith(queued["jobID"])
        job = _job(client, queued["jobID"])
        assert job["status"] == "successful", job
        results = client._request(path=f"jobs/{queued['jobID']}/results")
        assert results["inputs"]["optional"] == {"kindergarten": 800.0} and results["network"]["components"] == 1
        report = client._request(path=f"jobs/{queued['jobID']}/report", as_dict=False)
        assert b"<table" in report and b"L.map(" in report
        items: dict = {}
        for _ in range(60):  # the collection is new: sdi serve publishes it at its next poll of the catalogue
            items = requests.get(f"{base}/collections/access_standards/items?f=json", timeout=30).json()
            if "features" in items:
                break
            time.sleep(1)
        assert {f["properties"]["run_id"] for f in items["features"]} == {int(queued["jobID"])}  # the newest run

        for who, expected in ((None, 401), ("sdi_not-a-token", 401), (elsewhere, 403), (reader, 403)):
            with pytest.raises(RuntimeError, match="token"):  # OWSLib raises with the service's one line
                _client(base, who).execute(PROCESS, {"city": CITY}, async_=True)
            answer = requests.post(
                f"{base}/analysis/processes/{PROCESS}/execution",
                json={"inputs": {"city": CITY}},
                headers={"Authorization": f"Bearer {who}"} if who else {},
                timeout=30,
            )
            assert answer.status_code == expected, (who, answer.status_code, answer.text)
        with open_catalogue(pgr_settings) as conn:  # nothing was queued by the refused requests
            assert conn.execute("SELECT count(*) FROM analysis.runs").fetchone()[0] == 2


def test_the_process_api_answers_at_the_api_root_as_ogc_api_processes_names_it(pgr_settings, db_url, tmp_path):
    """/processes/access-standards and /jobs/{id} at the API's root (issue 21's paths), the same service."""
    load_town(tmp_path / "town", pgr_settings)
    with open_catalogue(pgr_settings) as conn:
        token = tokens.add(conn, "planner", scope="analyse")
        conn.commit()
    with running_api(db_url, tmp_path / "home") as base:
        client = Processes(base)  # OWSLib pointed at the API itself, as a client finds it
        client.headers = {"Authorization": f"Bearer {token}"}
        assert [p["id"] for p in client.processes()] == [PROCESS]
        assert "city" in client.process(PROCESS)["inputs"]
        # no preference: the process offers both modes, so it runs synchronously (default-execution-mode, C)
        answer = requests.post(
            f"{base}/processes/{PROCESS}/execution",
            json={"inputs": {"city": CITY}},
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["summary"]["gmina"][0]["parcels"] == 4
        answer = requests.post(
            f"{base}/processes/{PROCESS}/execution",
            json={"inputs": {"city": CITY}},
            headers={"Authorization": f"Bearer {token}", "Prefer": "respond-async"},
            timeout=30,
        )
        assert answer.status_code == 201, answer.text
        assert answer.headers["Preference-Applied"] == "respond-async"
        job_id = answer.json()["jobID"]
        deadline = time.monotonic() + 90
        job = requests.get(f"{base}/jobs/{job_id}", timeout=30).json()
        while job["status"] not in ("successful", "failed"):
            assert time.monotonic() < deadline, job
            time.sleep(0.5)
            job = requests.get(f"{base}/jobs/{job_id}", timeout=30).json()
        assert job["status"] == "successful", job
        results = requests.get(f"{base}/jobs/{job_id}/results", timeout=30).json()
        assert results["summary"]["gmina"][0]["parcels"] == 4
        assert requests.get(f"{base}/processes/unknown", timeout=30).status_code == 404
        conformance = requests.get(f"{base}/conformance?f=json", timeout=30).json()["conformsTo"]
        assert "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/job-list" in conformance
        # the landing page's job-list link (rel .../job-list, /jobs) leads to the jobs
        assert job_id in [j["jobID"] for j in requests.get(f"{base}/jobs", timeout=30).json()["jobs"]]
        # the API's description names the process paths, and no DELETE of a job (dismiss is not offered)
        document = requests.get(f"{base}/openapi?f=json", timeout=30).json()
        assert validate_openapi_document(document) is True
        paths = document["paths"]
        assert paths["/processes/{processId}/execution"]["post"]["operationId"] == "execute"
        assert {"/processes", "/processes/{processId}", "/jobs", "/jobs/{jobId}/results"} <= set(paths)
        assert "delete" not in paths["/jobs/{jobId}"]
