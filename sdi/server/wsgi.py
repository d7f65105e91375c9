"""The WSGI application that gunicorn runs: pygeoapi's Flask app, plus sdi's own /health.

pygeoapi reads its configuration (PYGEOAPI_CONFIG, written by `sdi serve`) when this module is
imported, which gunicorn does in every new worker: that is how a reload picks up a new catalogue.
"""

from __future__ import annotations

import functools
import json
import logging

import psycopg

# first: it refuses a pygeoapi version that sdi was not tested with, before pygeoapi's app is built
from sdi.server import pygeoapi_compat  # isort: skip

from flask import Response, abort, jsonify, request, send_file
from pygeoapi.flask_app import APP, CONFIG

from sdi import __version__
from sdi.core import sqlfiles
from sdi.core.config import restricted_themes
from sdi.core.db import one_row
from sdi.core.settings import get_settings
from sdi.server import html, raster_files
from sdi.server.access import RestrictedThemes
from sdi.server.caching import Caching, theme_versions
from sdi.server.cql_requests import CqlRequests, restore_names
from sdi.server.limits import BodyLimit
from sdi.server.provider import pool, theme_fields

logger = logging.getLogger(__name__)

pygeoapi_compat.install()


@APP.route("/health")
def health():
    """For load balancers: is the database there, and what does the catalogue hold? Never any secret.

    The figures are of the public themes only, as /collections lists them: a restricted theme is not
    counted (data.sdi_status counts every theme, which told an anonymous client that one is hidden).
    """
    public = sorted(set(CONFIG["resources"]) - restricted_themes())
    try:
        with pool().connection(timeout=5) as conn:
            row = conn.execute(
                "SELECT (SELECT catalogue_version FROM data.sdi_status) AS catalogue_version,"
                " count(DISTINCT theme) AS themes, count(*) AS layers, max(loaded_at) AS last_load"
                " FROM data.sdi_layers WHERE theme = ANY(%s)",
                [public],
            ).fetchone()
    except Exception as exc:  # noqa: BLE001 - any failure is the same answer for a load balancer
        logger.error("health check failed: %s", type(exc).__name__)
        return jsonify(status="unavailable", database="unreachable", sdi_version=__version__), 503
    return jsonify(
        status="ok",
        database="ok",
        sdi_version=__version__,
        **{**row, "last_load": row["last_load"].isoformat() if row["last_load"] else None},
    )


@APP.route("/qgis-project")
def qgis_project():
    """The QGIS project of every public theme, as `sdi qgis-project` writes it; ?city=TERYT filters it."""
    from sdi.core.errors import SdiError
    from sdi.server import qgis_project as project

    city = request.args.get("city") or None
    try:
        with pool().connection() as conn:
            body = project.build(CONFIG["server"]["url"], city, conn=conn)
    except SdiError as exc:
        return jsonify(code="InvalidParameterValue", description=str(exc)), 400
    name = f"sdi-{city}.qgz" if city else "sdi.qgz"
    return Response(
        body,
        mimetype="application/x-qgis-project+zip",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@APP.before_request
def _coverage_bbox():
    if request.path.endswith("/coverage") and "bbox" in request.args:
        problem = pygeoapi_compat.coverage_bbox_problem(request.args)
        if problem:
            return jsonify(code="InvalidParameterValue", type="InvalidParameterValue", description=problem), 400
    return None


@APP.route("/rasters/<theme>/<city>.tif")
def raster_file(theme: str, city: str):
    """A city's current COG, with HTTP range requests: what GDAL's /vsicurl/ (QGIS, gdalinfo) reads."""
    path = _raster_path(theme, city)
    if path is None:
        abort(404)  # unknown, restricted, or a catalogue row naming a file that is not the server's own
    return send_file(path, mimetype="image/tiff", conditional=True, download_name=f"{theme}-{city}.tif")


@functools.lru_cache(maxsize=256)  # a worker lives until the catalogue changes: then gunicorn replaces it
def _raster_path(theme: str, city: str) -> str | None:
    if theme in restricted_themes() or not sqlfiles.is_city(city):
        return None  # restricted rasters are not served as plain files
    with pool().connection() as conn:
        row = conn.execute("SELECT path FROM data.sdi_rasters WHERE theme = %s AND city = %s", [theme, city]).fetchone()
    if row is None:
        return None
    # The row is what a city's login wrote: the file is derived from the server's own raster folder.
    path = raster_files.raster_file(row["path"], theme, city, get_settings().raster_dir_abs)
    return str(path) if path else None


@APP.route("/collections/<theme>/preview.png")
def raster_preview(theme: str):
    """The theme's mosaic as a PNG in Web Mercator, nodata transparent; its lon/lat bounds in a header."""
    png, bounds = _preview(theme)
    return Response(
        png,
        mimetype="image/png",
        headers={"X-Bounds-Lonlat": ",".join(f"{v:.7f}" for v in bounds), "Cache-Control": "max-age=300"},
    )


@functools.lru_cache(maxsize=16)
def _preview(theme: str) -> tuple[bytes, tuple]:
    from sdi.core.config import registry
    from sdi.server.coverage import preview_png

    resource = CONFIG["resources"].get(theme, {})
    mosaic = next((p["data"] for p in resource.get("providers", []) if p["type"] == "coverage"), None)
    if mosaic is None or theme in restricted_themes():
        abort(404)
    return preview_png(mosaic, registry().rasters[theme])


_PREVIEW_HTML = (
    '<section id="preview"><h3>Podgląd / Preview</h3><img src="{href}" alt="{theme}"'
    ' style="max-width:100%;border:1px solid #ccc"></section>'
)
_PREVIEW_JS = (
    '<script nonce="{nonce}">fetch("{href}").then(r => {{'
    ' const b = r.headers.get("X-Bounds-Lonlat").split(",").map(Number);'
    ' L.imageOverlay("{href}", [[b[1], b[0]], [b[3], b[2]]], {{opacity: 0.85}}).addTo(map); }});</script>'
)


_PROJECT_HTML = (
    '<section id="qgis"><h2>QGIS</h2><p>Projekt QGIS ze wszystkimi warstwami i stylami / a QGIS project'
    ' with every layer, styled: <a href="{url}/qgis-project">sdi.qgz</a>. Jedno miasto / one city:'
    " <code>{url}/qgis-project?city=TERYT</code>.</p></section>"
)


@APP.after_request
def _restore_filter_names(response):
    restore_names(response, request.environ)
    pygeoapi_compat.finish(response, request, CONFIG)
    if request.path in ("", "/") and response.status_code == 200 and not response.direct_passthrough:
        _link_project(response)
    parts = request.path.strip("/").split("/")
    if (
        len(parts) == 2
        and parts[0] == "collections"
        and response.status_code == 200
        and not response.direct_passthrough
        and _is_coverage(parts[1])
    ):
        _show_preview(response, parts[1])
    response.headers["Content-Security-Policy"] = html.content_security_policy()
    return response


def _is_coverage(theme: str) -> bool:
    return any(p["type"] == "coverage" for p in CONFIG["resources"].get(theme, {}).get("providers", []))


def _show_preview(response, theme: str) -> None:
    """A raster collection's HTML page shows its preview, as a picture and laid over the page's map."""
    page = response.get_data(as_text=True)
    if page.lstrip().startswith("{") or "</body>" not in page:
        return
    href = f"{CONFIG['server']['url'].rstrip('/')}/collections/{theme}/preview.png"
    page = page.replace(
        '<div id="collection-map"></div>',
        '<div id="collection-map"></div>' + _PREVIEW_HTML.format(href=href, theme=theme),
        1,
    )
    response.set_data(page.replace("</body>", _PREVIEW_JS.format(href=href, nonce=html.csp_nonce()) + "\n</body>", 1))


def _link_project(response) -> None:
    """The landing page links the QGIS project, in JSON as a link and in HTML as a section."""
    # pygeoapi sets the media type after this hook runs, so the body tells which one it is.
    url = CONFIG["server"]["url"].rstrip("/")
    page = response.get_data(as_text=True)
    if page.lstrip().startswith("{"):
        body = json.loads(page)
        body.setdefault("links", []).append(
            {
                "rel": "related",
                "type": "application/x-qgis-project+zip",
                "title": "QGIS project of every theme",
                "href": f"{url}/qgis-project",
            }
        )
        response.set_data(json.dumps(body))
    elif '<section id="openapi">' in page:
        response.set_data(
            page.replace('<section id="openapi">', _PROJECT_HTML.format(url=url) + '\n  <section id="openapi">', 1)
        )


_scope_function = True  # data.sdi_token_scope exists (until a catalogue without it says otherwise)


def _token_scope(digest: str) -> tuple[bool, str | None]:
    """(valid, city) of a token: its city, or None for a token of every city."""
    global _scope_function
    with pool().connection() as conn:
        if _scope_function:
            try:
                row = conn.execute("SELECT valid, city FROM data.sdi_token_scope(%s)", [digest]).fetchone()
                return (True, row["city"]) if row and row["valid"] else (False, None)
            except psycopg.errors.UndefinedFunction:
                # a catalogue migrated before token scopes: tokens open every city, as they did then
                logger.warning("data.sdi_token_scope is missing: run `sdi init`; tokens are not bound to a city")
                _scope_function = False
            except psycopg.Error as exc:  # e.g. the reader may not call it: closed, never wider
                logger.error("cannot check a token's scope: %s", type(exc).__name__)
                return False, None
        return bool(one_row(conn.execute("SELECT data.sdi_token_valid(%s) AS ok", [digest]))["ok"]), None


# Outermost first: JSON errors, the body limit, restricted themes (which may hide some from this request),
# HTTP caching of what the request may see, CQL2 requests, pygeoapi.
_cached = Caching(CqlRequests(APP.wsgi_app, CONFIG, theme_fields), CONFIG, theme_versions(pool))
APP.wsgi_app = pygeoapi_compat.JsonAnswers(
    BodyLimit(RestrictedThemes(_cached, CONFIG, restricted_themes(), _token_scope))
)
app = APP
