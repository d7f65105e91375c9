"""The JSON documents of OGC API - Processes - Part 1: Core 1.0 (OGC 18-062r2) for the access-standards process:
the process list and description, a job's status (statusInfo), the job list and a job's results, and the
exceptions. Their shapes follow the standard's schemas (core/openapi/schemas/*.yaml), which
tests/test_analysis_processes.py checks; sdi.analysis.service routes the requests to them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sdi.analysis.standards import OPTIONAL_KINDS, UNITS

PROCESS = "access-standards"
_ROOT = "/analysis"
_EXCEPTIONS = "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/"
_NUMBER = {"type": "number", "minimum": 0}
# Each input: its description and its JSON schema (inputDescription.yaml requires the schema); every input but
# the city has the art. 13f default.
_INPUTS: dict[str, tuple[str, dict[str, Any]]] = {
    "city": ("The gmina: its 7-digit TERYT code", {"type": "string", "pattern": "^[0-9]{7}$"}),
    "school_town_m": ("Primary school, in towns (m)", {**_NUMBER, "default": 1500}),
    "school_rural_m": ("Primary school, outside towns (m)", {**_NUMBER, "default": 3000}),
    "green_sum_m": ("Public green areas summed within this distance (m)", {**_NUMBER, "default": 1500}),
    "green_sum_ha": ("... whose areas add up to at least (ha)", {**_NUMBER, "default": 3.0}),
    "green_big_m": ("One public green area of the size below within (m)", {**_NUMBER, "default": 3000}),
    "green_big_ha": ("... of at least (ha)", {**_NUMBER, "default": 20.0}),
    "town": ("Which units are in a town", {"type": "string", "enum": ["auto", "town", "rural"], "default": "auto"}),
    "snap_m": ("Street ends closer than this are joined (m)", {**_NUMBER, "default": 5}),
    "optional": (
        "The gmina's optional standards: {kind: distance in m}, kinds: " + ", ".join(OPTIONAL_KINDS),
        {"type": "object", "additionalProperties": _NUMBER, "propertyNames": {"enum": list(OPTIONAL_KINDS)}},
    ),
    "units": ("The unit of analysis", {"type": "string", "enum": list(UNITS), "default": "parcels"}),
    "planned": (
        "Add the road zones of land_use_plans to the network (art. 13f ust. 4: a what-if, not published)",
        {"type": "boolean", "default": False},
    ),
}
_OUTPUTS: dict[str, tuple[str, dict[str, Any]]] = {
    "summary": ("Shares of units and addresses that comply, per gmina, precinct and plan zone", {"type": "object"}),
    "network": ("The walking network: edges, vertices, components, connectors", {"type": "object"}),
    "layer": ("The PostGIS view and OGC API collection that hold the per-unit results", {"type": "string"}),
    "report": ("The HTML report: a map and the summary table", {"type": "string", "format": "uri-reference"}),
    "csv": ("The summary as CSV", {"type": "string", "format": "uri-reference"}),
}


#: What /analysis/conformance declares (sdi.server.pygeoapi_compat.PROCESSES declares the same at the root).
CONFORMANCE = [
    f"http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/{c}"
    for c in ("core", "ogc-process-description", "json", "job-list")
]


def _link(href: str, rel: str, title: str, kind: str = "application/json") -> dict[str, str]:
    return {"href": href, "rel": rel, "type": kind, "title": title}


def description(brief: bool = False) -> dict[str, Any]:
    """The process description (brief: its summary in the process list)."""
    head = {
        "id": PROCESS,
        "title": "Access standards of art. 13f of the planning act",
        "description": "Network distances from every parcel (or address, or residential building) to a primary"
        " school and public green areas along streets and paths, against the art. 13f thresholds.",
        "version": "1.0.0",
        "jobControlOptions": ["async-execute", "sync-execute"],
        "outputTransmission": ["value"],
        "links": [_link(f"{_ROOT}/processes/{PROCESS}", "self", "The process description")],
    }
    if brief:
        return head
    return {
        **head,
        "inputs": {
            name: {"title": name, "description": text, "schema": schema, "minOccurs": int(name == "city")}
            for name, (text, schema) in _INPUTS.items()
        },
        "outputs": {name: {"title": name, "description": text, "schema": s} for name, (text, s) in _OUTPUTS.items()},
    }


def landing() -> dict[str, Any]:
    """/analysis/: the process API's own landing page, for a client pointed at it."""
    ogc = "http://www.opengis.net/def/rel/ogc/1.0/"
    return {
        "title": "sdi: planning analysis (OGC API - Processes)",
        "description": "The access standards of art. 13f of the planning act, along streets and paths.",
        "links": [
            _link(f"{_ROOT}/", "self", "This document"),
            _link(f"{_ROOT}/conformance", ogc + "conformance", "Conformance classes"),
            _link(f"{_ROOT}/processes", ogc + "processes", "The processes"),
            _link(f"{_ROOT}/jobs", ogc + "job-list", "The jobs"),
        ],
    }


def process_list() -> dict[str, Any]:
    return {"processes": [description(brief=True)], "links": [_link(f"{_ROOT}/processes", "self", "The processes")]}


def status_info(row: dict[str, Any]) -> dict[str, Any]:
    """A job's statusInfo: its times in RFC 3339, no null members (the schema types them as strings)."""
    job = f"{_ROOT}/jobs/{row['run_id']}"
    info: dict[str, Any] = {"jobID": str(row["run_id"]), "processID": PROCESS, "type": "process"}
    info["status"] = row["status"]
    if row.get("message"):
        info["message"] = row["message"]
    for key, column in (("created", "created_at"), ("started", "started_at"), ("finished", "finished_at")):
        if isinstance(row.get(column), datetime):
            info[key] = row[column].isoformat()
    if row["status"] == "successful":
        info["progress"] = 100
    info["links"] = [_link(job, "self", "The job's status")]
    if row["status"] == "successful":
        info["links"].append(_link(f"{job}/results", "http://www.opengis.net/def/rel/ogc/1.0/results", "Results"))
    return info


def results(row: dict[str, Any]) -> dict[str, Any]:
    """A successful job's results: one member per output of the description, beside its status (kept for the
    scripts that read jobID, status and inputs from it)."""
    return {
        **status_info(row),
        "inputs": row["params"],
        "network": row["network"],
        "summary": row["summary"],
        "layer": "data.access_standards (PostGIS view; open it in QGIS)",
        "report": f"{_ROOT}/jobs/{row['run_id']}/report",
        "csv": f"{_ROOT}/jobs/{row['run_id']}/summary.csv",
    }


def job_list(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"jobs": [status_info(r) for r in rows], "links": [_link(f"{_ROOT}/jobs", "self", "The jobs")]}


def exception(kind: str, detail: str, status: int, fix: str | None = None) -> dict[str, Any]:
    """An exception document (exception.yaml): kind is one of the standard's, e.g. no-such-job."""
    found = {"type": _EXCEPTIONS + kind, "title": kind.replace("-", " "), "status": status, "detail": detail}
    return {**found, "fix": fix} if fix else found


def problem(detail: str, status: int, fix: str | None = None) -> dict[str, Any]:
    """An exception document for what the standard names no kind of (a missing token, a bad body): RFC 7807's
    "about:blank", whose title is the HTTP status's own."""
    found = {"type": "about:blank", "title": REASONS.get(status, "Error"), "status": status, "detail": detail}
    return {**found, "fix": fix} if fix else found


REASONS = {
    200: "OK",
    201: "Created",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    503: "Service Unavailable",
}
