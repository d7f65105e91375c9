"""Rewrite pygeoapi 0.21's page templates to load only sdi's vendored assets (run by hand; commit the result).

    .venv/bin/python sdi/server/static/vendor/offline_templates.py

Each template in TEMPLATES is read from sdi/server/templates when sdi already overrides it, else from
pygeoapi's, and written to sdi/server/templates with every CDN URL replaced by /vendor/... (served by nginx
from this folder), Google Fonts and html5shiv dropped, dir="ltr", and the background map made the
configured tile URL when there is one, else sdi's own WMS (the orthophoto): no page needs the internet.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pygeoapi

OURS = Path(__file__).resolve().parents[2] / "templates"
THEIRS = Path(pygeoapi.__file__).parent / "templates"
TEMPLATES = [
    "_base.html",
    "landing_page.html",
    "collections/collection.html",
    "collections/items/index.html",
    "collections/items/item.html",
    "collections/tiles/index.html",
    "openapi/swagger.html",
    "openapi/redoc.html",
]
V = "{{ config['server']['url'] }}/vendor"
URLS = [
    (r"https://unpkg\.com/bootstrap@[\d.]+/dist/", f"{V}/bootstrap/dist/"),
    (r"https://cdnjs\.cloudflare\.com/ajax/libs/leaflet/[\d.]+/leaflet\.js", f"{V}/leaflet/dist/leaflet.js"),
    (r"https://unpkg\.com/leaflet@[\d.]+/dist/", f"{V}/leaflet/dist/"),
    (r"https://unpkg\.com/leaflet\.vectorgrid@[\w.]+/dist/", f"{V}/leaflet.vectorgrid/dist/"),
    (r"https://unpkg\.com/leaflet\.markercluster/dist/", f"{V}/leaflet.markercluster/dist/"),
    (r"https://unpkg\.com/swagger-ui-dist/", f"{V}/swagger-ui/"),
    (r"https://cdn\.jsdelivr\.net/npm/redoc@\w+/bundles/", f"{V}/redoc/bundles/"),
]
DROP = [r"\s*<link[^>]*fonts\.googleapis\.com[^>]*>", r"\s*<!--\[if lt IE 9\]>.*?<!\[endif\]-->"]
TILES = re.compile(
    r"map\.addLayer\(new L\.TileLayer\(\s*'\{\{ config\['server'\]\['map'\]\['url'\] \}\}',"
    r"\s*\{(?P<opts>.*?)\}\s*\)\);",
    re.DOTALL,
)
BASEMAP = """{% if config['server']['map']['url'] %}
    map.addLayer(new L.TileLayer(
      '{{ config['server']['map']['url'] }}', {\\g<opts>}
    ));
    {% else %}
    // No tile server configured: the background is sdi's own WMS (the orthophoto), which needs no internet.
    map.addLayer(L.tileLayer.wms('{{ config['server']['url'] }}/wms', {
      layers: '{{ config['server']['map'].get('wms_layers', 'orthophoto') }}', format: 'image/png',
      transparent: true, maxZoom: 22, attribution: '{{ config['server']['map']['attribution'] | safe }}'}));
    {% endif %}"""


def offline(text: str) -> str:
    """The template with no reference to a host other than the server's own."""
    for pattern, local in URLS:
        text = re.sub(pattern, local, text)
    for pattern in DROP:
        text = re.sub(pattern, "", text, flags=re.DOTALL)
    text = text.replace('dir="{% trans %}text_direction{% endtrans %}"', 'dir="ltr"')
    text = TILES.sub(BASEMAP, text)
    return text


def main() -> int:
    for name in TEMPLATES:
        source = OURS / name if (OURS / name).exists() else THEIRS / name
        text = offline(source.read_text(encoding="utf-8"))
        left = re.findall(r"https://(?:unpkg|cdn|fonts)[^\"' ]*", text)
        if left:
            print(f"{name}: still refers to {left}", file=sys.stderr)
            return 1
        (OURS / name).parent.mkdir(parents=True, exist_ok=True)
        (OURS / name).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
