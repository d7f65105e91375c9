"""A run's summary as CSV and JSON, and a short HTML report: a map of the units and areas coloured as the QGIS
styles colour them (met green, not met red, unreachable grey) and the summary table.

The report is one self-contained file that works offline: the vendored Leaflet that the geoportal serves
(sdi/server/static/vendor, read here as a file, not imported) is inlined, and there is no base map. Every
value that comes from the database is escaped: HTML-escaped in the page, and in the map's data block JSON
with <, > and & as \\u escapes, read with JSON.parse and shown through textContent, never as HTML. A
Content-Security-Policy with a nonce allows only the report's own scripts.
"""

from __future__ import annotations

import csv
import html
import io
import json
import logging
import secrets
from importlib import resources
from typing import Any

import psycopg
from psycopg.rows import dict_row

from sdi.analysis import runs
from sdi.core import sqlfiles

logger = logging.getLogger(__name__)

#: Units drawn on the map at the most; beyond it only the areas are (a 50,000-unit map is a slow page).
MAP_UNITS = 20_000
#: The columns of the summary, in the order of the CSV and the table, with their headings.
COLUMNS = {
    "level": "level",
    "area": "area",
    "unit": "unit",
    "parcels": "units",
    "all_standards": "all met",
    "school": "school",
    "green_3ha": "green 3 ha",
    "green_20ha": "green 20 ha",
    "addresses": "addresses",
    "addresses_ok": "addresses met",
    "unreachable": "unreachable",
    "school_network_only": "school: network only",
    "school_straight_only": "school: straight line only",
    "status": "status",
}
_SHARES = ("all_standards", "school", "green_3ha", "green_20ha", "addresses_ok")
_LEAFLET = ("server", "static", "vendor", "leaflet", "dist")


def collect(conn: psycopg.Connection, run_id: int, *, map_units: int = MAP_UNITS) -> dict[str, Any]:
    """Everything the report shows: the run, its summary rows, catchments, and the map's features (CRS84)."""
    cur = conn.cursor(row_factory=dict_row)
    run = cur.execute(
        "SELECT run_id, city, status, params, network, summary, message, finished_at"
        " FROM analysis.runs WHERE run_id = %s",
        [run_id],
    ).fetchone()
    if run is None:
        raise LookupError(f"no analysis run {run_id}")
    cols = ", ".join(COLUMNS)
    areas = cur.execute(
        f"SELECT {cols}, ST_AsGeoJSON(ST_Transform(geom, 4326), 6) AS geometry"
        " FROM analysis.area_summary WHERE run_id = %s"
        " ORDER BY level = 'gmina' DESC, level, all_standards, area",
        [run_id],
    ).fetchall()
    catchments = runs.catchments(cur, run_id)
    total = cur.execute("SELECT count(*) AS n FROM analysis.parcel_access WHERE run_id = %s", [run_id]).fetchone()
    units = cur.execute(sqlfiles.load("analysis/report_units.sql"), [run_id, map_units]).fetchall()
    return {
        "run": run,
        "areas": areas,
        "catchments": catchments,
        "units": units,
        "units_total": total["n"] if total else 0,
    }


def summary_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The summary table: one row per area (gmina, precincts, planning zones), without geometry."""
    return [{k: _plain(row[k]) for k in COLUMNS} for row in data["areas"]]


def summary_csv(data: dict[str, Any]) -> str:
    """The summary table as CSV (shares as fractions 0..1, as in the JSON)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(summary_rows(data))
    return out.getvalue()


def summary_json(data: dict[str, Any]) -> dict[str, Any]:
    """The run, its network report, the summary rows and each facility's catchment, as one JSON object."""
    run = data["run"]
    return {
        "run_id": run["run_id"],
        "city": run["city"],
        "status": run["status"],
        "params": run["params"],
        "network": run["network"],
        "warnings": (run["summary"] or {}).get("warnings", []),
        "areas": summary_rows(data),
        "catchments": [{k: _plain(v) for k, v in c.items()} for c in data["catchments"]],
    }


def report_html(data: dict[str, Any]) -> tuple[str, str]:
    """The HTML report and the Content-Security-Policy it needs (also set in the page as a meta element)."""
    nonce = secrets.token_urlsafe(16)
    csp = (
        f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; img-src data:;"
        " base-uri 'none'; form-action 'none'"
    )
    run = data["run"]
    leaflet = _leaflet()
    features = {
        "areas": _collection(data["areas"], ("level", "area", "status", "all_standards", "parcels")),
        "units": _collection(data["units"], ("label", "status", "school_m", "green_ha", "green20_m", "reason")),
    }
    e = html.escape
    net = run["network"] or {}
    facts = [
        ("city", run["city"]),
        ("run", run["run_id"]),
        ("status", run["status"]),
        ("finished", run["finished_at"]),
        ("units", net.get("units", "parcels")),
        (
            "network",
            f"{net.get('edges', '?')} edges, {net.get('components', '?')} components,"
            f" {net.get('connectors', '?')} gaps closed",
        ),
        ("planned routes", net.get("planned") if net.get("planned") is not None else "not added"),
    ]
    shown = len(data["units"])
    note = (
        ""
        if shown == data["units_total"]
        else f"<p>The map shows {shown:,} of {data['units_total']:,} units; every area is drawn.</p>"
    )
    warnings = "".join(f"<li>{e(str(w))}</li>" for w in (run["summary"] or {}).get("warnings", []))
    map_part = (
        (
            f'<div id="map"></div>{note}<style>{leaflet[1]}</style>'
            f'<script nonce="{nonce}">{leaflet[0]}</script>'
            f'<script type="application/json" id="features">{_script_json(features)}</script>'
            f'<script nonce="{nonce}">{_MAP_JS}</script>'
        )
        if leaflet
        else "<p>No map: the vendored Leaflet (sdi/server/static/vendor/leaflet) is not installed.</p>"
    )
    page = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{e(csp)}">'
        f"<title>Access standards (art. 13f), city {e(str(run['city']))}, run {e(str(run['run_id']))}</title>"
        f"<style>{_CSS}</style></head><body>"
        f"<h1>Access standards of art. 13f: city {e(str(run['city']))}</h1>"
        f"<dl>{''.join(f'<dt>{e(k)}</dt><dd>{e(str(v))}</dd>' for k, v in facts)}</dl>"
        f"{f'<ul class=warn>{warnings}</ul>' if warnings else ''}{map_part}"
        f"<h2>Summary</h2>{_table(summary_rows(data))}"
        f"<h2>Catchments</h2>{_catchments(data['catchments'])}</body></html>"
    )
    return page, csp


def _table(rows: list[dict[str, Any]]) -> str:
    e = html.escape
    head = "".join(f"<th>{e(t)}</th>" for t in COLUMNS.values())
    body = "".join("<tr>" + "".join(f"<td>{e(_cell(k, r[k]))}</td>" for k in COLUMNS) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _catchments(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "<p>None computed for this run.</p>"
    e = html.escape
    body = "".join(
        f"<tr><td>{e(str(r['kind']))}</td><td>{e(str(r['facility_fid']))}</td>"
        f"<td>{e(str(r['name'] or ''))}</td><td>{e(str(r['units']))}</td><td>{e(str(r['addresses']))}</td>"
        "</tr>"
        for r in rows
    )
    return (
        "<table><thead><tr><th>kind</th><th>facility</th><th>name</th><th>units within the limit</th>"
        f"<th>addresses within the limit</th></tr></thead><tbody>{body}</tbody></table>"
    )


def _cell(key: str, value: Any) -> str:
    if value is None:
        return ""
    return f"{100 * value:.1f} %" if key in _SHARES else str(value)


def _plain(value: Any) -> Any:
    """JSON- and CSV-friendly: numbers stay numbers (shares rounded), everything else as given."""
    return round(value, 4) if isinstance(value, float) else value


def _collection(rows: list[dict[str, Any]], keys: tuple[str, ...]) -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": json.loads(r["geometry"]), "properties": {k: _plain(r[k]) for k in keys}}
            for r in rows
            if r["geometry"]
        ],
    }


def _script_json(value: Any) -> str:
    """JSON that cannot end its <script> element or open another: <, > and & as \\u escapes."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def _leaflet() -> tuple[str, str] | None:
    """Leaflet's script and stylesheet as the geoportal vendors them, or None when they are not installed."""
    folder = resources.files("sdi").joinpath(*_LEAFLET)
    try:
        script = folder.joinpath("leaflet.js").read_text(encoding="utf-8")
        style = folder.joinpath("leaflet.css").read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        logger.warning("the vendored Leaflet is missing: the report has no map")
        return None
    if "</script" in script.lower() or "</style" in style.lower():  # inlined, it would end its element early
        logger.warning("the vendored Leaflet cannot be inlined: the report has no map")
        return None
    return script, style


_CSS = (
    "body{font:14px/1.4 sans-serif;margin:1.5em;color:#222}#map{height:480px;border:1px solid #bbb}"
    "table{border-collapse:collapse;margin:.5em 0}"
    "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right;white-space:nowrap}"
    "th{background:#eee}dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px}dd{margin:0}"
    ".warn{color:#a40}"
)
# Colours of styles/access_standards.qml: met green, not met red, unreachable grey. Popups are DOM text nodes.
_MAP_JS = """
const data = JSON.parse(document.getElementById('features').textContent);
const colour = {met: '#1a9641', not_met: '#d7191c', unreachable: '#969696'};
const map = L.map('map', {preferCanvas: true});
function popup(props) {
  const box = document.createElement('div');
  for (const [k, v] of Object.entries(props)) {
    const line = document.createElement('div');
    line.textContent = k + ': ' + (v === null ? '' : v);
    box.appendChild(line);
  }
  return box;
}
const areas = L.geoJSON(data.areas, {style: f => ({color: colour[f.properties.status] || '#333', weight: 2,
  fill: false}), onEachFeature: (f, l) => l.bindPopup(popup(f.properties))}).addTo(map);
const units = L.geoJSON(data.units, {
  style: f => ({color: colour[f.properties.status] || '#333', weight: 1, fillOpacity: 0.5}),
  pointToLayer: (f, ll) => L.circleMarker(ll, {radius: 3}),
  onEachFeature: (f, l) => l.bindPopup(popup(f.properties))}).addTo(map);
const bounds = areas.getBounds().isValid() ? areas.getBounds() : units.getBounds();
if (bounds.isValid()) { map.fitBounds(bounds); } else { map.setView([52, 19], 6); }
L.control.layers(null, {'areas': areas, 'units': units}, {collapsed: false}).addTo(map);
"""
