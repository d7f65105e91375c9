"""The WSGI application that gunicorn runs: pygeoapi's Flask app, plus sdi's own /health.

pygeoapi reads its configuration (PYGEOAPI_CONFIG, written by `sdi serve`) when this module is
imported, which gunicorn does in every new worker: that is how a reload picks up a new catalogue.
"""

from __future__ import annotations

import logging

from flask import jsonify, request
from pygeoapi.api import itemtypes
from pygeoapi.flask_app import APP

from sdi import __version__
from sdi.cql_requests import CqlRequests, restore_names

logger = logging.getLogger(__name__)


# /conformance lists only what works: the API is read-only, so Part 4 (create, replace, delete) is not claimed.
_NOT_SUPPORTED = {"http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete"}
# Filtering works through sdi.cql and sdi.cql_requests, in CQL2 text and JSON. Not claimed: temporal
# functions (pygeofilter 0.4 cannot parse them in text) and accent-insensitivity (only Polish letters fold).
_FILTERING = ["http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
              "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
              *(f"http://www.opengis.net/spec/cql2/1.0/conf/{c}" for c in (
                  "basic-cql2", "cql2-text", "cql2-json", "advanced-comparison-operators",
                  "case-insensitive-comparison", "basic-spatial-functions", "spatial-functions"))]
itemtypes.CONFORMANCE_CLASSES_FEATURES[:] = [c for c in itemtypes.CONFORMANCE_CLASSES_FEATURES
                                             if c not in _NOT_SUPPORTED] + _FILTERING


@APP.route("/health")
def health():
    """For load balancers: is the database there, and what does the catalogue hold? Never any secret."""
    from sdi.provider import pool

    try:
        with pool().connection(timeout=5) as conn:
            row = conn.execute(
                "SELECT (SELECT max(version) FROM sdi.schema_migrations) AS catalogue_version,"
                " (SELECT count(DISTINCT theme) FROM sdi.layers) AS themes,"
                " (SELECT count(*) FROM sdi.layers) AS layers,"
                " (SELECT max(loaded_at) FROM sdi.loads) AS last_load").fetchone()
    except Exception as exc:  # any failure is the same answer for a load balancer
        logger.error("health check failed: %s", type(exc).__name__)
        return jsonify(status="unavailable", database="unreachable", sdi_version=__version__), 503
    return jsonify(status="ok", database="ok", sdi_version=__version__, **{
        **row, "last_load": row["last_load"].isoformat() if row["last_load"] else None})


@APP.after_request
def _restore_filter_names(response):
    restore_names(response, request.environ)
    return response


APP.wsgi_app = CqlRequests(APP.wsgi_app)
app = APP
