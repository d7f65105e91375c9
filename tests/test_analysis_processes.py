"""The process API's documents against OGC API - Processes - Part 1: Core 1.0 (OGC 18-062r2): the process list
and description, a job's status info, the job list, results and exceptions, as the standard's schemas require
them (core/openapi/schemas: processList, processSummary, process, inputDescription, statusInfo, jobList,
exception), written out here as JSON Schemas of their required members and types. A third-party suite (the
OGC's ets-ogcapi-processes10) validates the same documents; this test answers first."""

from __future__ import annotations

import jsonschema
import test_analysis
from test_analysis import CITY, process_call

from sdi.analysis import runs
from sdi.analysis.standards import parse
from sdi.core.catalogue import open_catalogue

pgr_settings = test_analysis.pgr_settings  # the fixtures: the test database with pgRouting, the town and a token
process_api = test_analysis.process_api

LINK = {"type": "object", "required": ["href"], "properties": {"href": {"type": "string"}, "rel": {"type": "string"}}}
LINKS = {"type": "array", "items": LINK}
SUMMARY = {
    "type": "object",
    "required": ["id", "version"],
    "properties": {
        "id": {"type": "string"},
        "version": {"type": "string"},
        "jobControlOptions": {"type": "array", "items": {"enum": ["sync-execute", "async-execute", "dismiss"]}},
        "outputTransmission": {"type": "array", "items": {"enum": ["value", "reference"]}},
        "links": LINKS,
    },
}
PROCESS = {
    "allOf": [
        SUMMARY,
        {
            "type": "object",
            "properties": {
                "inputs": {"type": "object", "additionalProperties": {"type": "object", "required": ["schema"]}},
                "outputs": {"type": "object", "additionalProperties": {"type": "object", "required": ["schema"]}},
            },
        },
    ]
}
# RFC 3339 date-time, as "format: date-time" means (jsonschema leaves formats unchecked by default)
DATE_TIME = {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$"}
STATUS_INFO = {
    "type": "object",
    "required": ["jobID", "status", "type"],
    "properties": {
        "processID": {"type": "string"},
        "type": {"enum": ["process"]},
        "jobID": {"type": "string"},
        "status": {"enum": ["accepted", "running", "successful", "failed", "dismissed"]},
        "message": {"type": "string"},
        "created": DATE_TIME,
        "started": DATE_TIME,
        "finished": DATE_TIME,
        "updated": DATE_TIME,
        "progress": {"type": "integer", "minimum": 0, "maximum": 100},
        "links": LINKS,
    },
}
EXCEPTION = {"type": "object", "required": ["type"], "properties": {"type": {"type": "string"}, "status": {}}}


def test_the_process_list_and_description_are_the_standards_documents(process_api):
    status, landing = process_call("GET", "/analysis/")
    rels = {link["rel"].rsplit("/", 1)[-1]: link["href"] for link in landing["links"]}
    assert status == 200 and rels["processes"] == "/analysis/processes" and rels["job-list"] == "/analysis/jobs"
    status, conformance = process_call("GET", "/analysis/conformance")
    assert "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/core" in conformance["conformsTo"]
    status, listed = process_call("GET", "/analysis/processes")
    assert status == 200
    jsonschema.validate(listed, {"type": "object", "required": ["processes", "links"], "properties": {
        "processes": {"type": "array", "items": SUMMARY}, "links": LINKS}})  # fmt: skip
    status, described = process_call("GET", "/analysis/processes/access-standards")
    assert status == 200
    jsonschema.validate(described, PROCESS)
    assert described["inputs"]["city"]["schema"]["pattern"] == "^[0-9]{7}$"
    assert described["inputs"]["units"]["schema"]["enum"] == ["parcels", "addresses", "buildings"]
    assert {"summary", "report", "csv"} <= set(described["outputs"])
    for path in ("/analysis/processes/nope", "/analysis/processes/nope/execution"):
        status, missing = process_call("GET", path)
        assert status == 404 and missing["type"].endswith("/no-such-process"), missing
        jsonschema.validate(missing, EXCEPTION)


def test_jobs_their_list_results_and_exceptions_follow_the_standard(process_api, pgr_settings):
    status, queued = process_call(
        "POST",
        "/analysis/processes/access-standards/execution",
        {"inputs": {"city": CITY}},
        process_api,
        "respond-async",
    )
    assert status == 201
    jsonschema.validate(queued, STATUS_INFO)
    job = queued["jobID"]
    status, early = process_call("GET", f"/analysis/jobs/{job}/results")  # not run yet
    assert status == 404 and early["type"].endswith("/result-not-ready"), early
    assert runs.work(pgr_settings, once=True) == 1
    status, info = process_call("GET", f"/analysis/jobs/{job}")
    assert status == 200 and info["status"] == "successful"
    jsonschema.validate(info, STATUS_INFO)
    assert info["created"] <= info["started"] <= info["finished"]  # RFC 3339 in UTC sorts as time does
    assert any(link["href"] == f"/analysis/jobs/{job}/results" for link in info["links"])
    status, listed = process_call("GET", "/analysis/jobs")
    assert status == 200
    jsonschema.validate(listed, {"type": "object", "required": ["jobs", "links"], "properties": {
        "jobs": {"type": "array", "items": STATUS_INFO}, "links": LINKS}})  # fmt: skip
    assert [j["jobID"] for j in listed["jobs"]] == [job]
    status, results = process_call("GET", f"/analysis/jobs/{job}/results")
    assert status == 200 and results["summary"]["gmina"][0]["parcels"] == 4
    status, missing = process_call("GET", "/analysis/jobs/999999")
    assert status == 404 and missing["type"].endswith("/no-such-job")
    jsonschema.validate(missing, EXCEPTION)


def test_a_failed_jobs_results_are_an_exception_with_its_reason(process_api, pgr_settings):
    with open_catalogue(pgr_settings) as conn:
        run_id = runs.submit(conn, parse({"city": "1465011"}))  # a city with nothing loaded
        conn.commit()
    assert runs.work(pgr_settings, once=True) == 1
    status, info = process_call("GET", f"/analysis/jobs/{run_id}")
    assert status == 200 and info["status"] == "failed" and info["message"]
    jsonschema.validate(info, STATUS_INFO)
    status, failed = process_call("GET", f"/analysis/jobs/{run_id}/results")
    assert status == 400 and info["message"] in failed["detail"]
    jsonschema.validate(failed, EXCEPTION)
