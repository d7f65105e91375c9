"""The geoportal page (/mapa; /map and /geoportal redirect to it) and the vendored assets, served by nginx.

The page is static: sdi/server/static/geoportal/{index.html, geoportal.js, geoportal.css}. What it needs to
know is written here, from the catalogue, into config.json beside the WMS projects at every start and
catalogue change: the public themes in the QGIS project's groups with their Polish and English titles, the
cities and their extents, the code lists' labels, the fields searched, and the background map of
config/server.yaml; and the analysis results (art. 13f), once a run published them, in a group on top. The map
draws from sdi's own WMS, and the legends are its GetLegendGraphic, so the page needs no internet. Scripts
come only from this host (`script-src 'self'`; the page has no inline script), and feature values are put into
the page as text, never as markup.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sdi.core import catalogue
from sdi.core.catalogue import open_catalogue
from sdi.core.config import registry
from sdi.core.settings import Settings
from sdi.server import qgis_access_layers, qgis_project
from sdi.server.services import Service, ServiceContext

logger = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob: https:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
)
# Where the search box looks, through the API's own CQL2 filters: (theme, field), in this order.
SEARCH = [
    ("address_points", "street"),
    ("roads", "name"),
    ("public_services", "name"),
    ("green_areas", "name"),
    ("public_transport_stops", "name"),
]
# Columns the feature-info panel does not show: internal ids, not what a resident reads.
HIDDEN = ["load_id", "source_id", "geom", "ulic_id", "simc_id", "rspo_id", "regon"]


@dataclass
class Geoportal:
    """The nginx locations of the page and the assets, and how to rewrite its config.json."""

    nginx: str
    refresh: Callable[[], None]


def service(ctx: ServiceContext) -> Service:
    """/mapa and /vendor/ as nginx locations, beside the WMS but not inside it: no QGIS Server needed for them.

    services.py runs one process per service; this one's work is nginx's and the config refresh in the serve
    parent, so its process only idles (`sleep infinity`, a few hundred kB) to fit that contract.
    """
    geo = prepare(ctx)
    return Service(name="geoportal", command=["sleep", "infinity"], nginx=geo.nginx, on_change=geo.refresh)


def prepare(ctx: ServiceContext) -> Geoportal:
    """Write config.json now; return the nginx locations and the refresh to run on catalogue change."""
    folder = ctx.run_dir / "geoportal"
    folder.mkdir(exist_ok=True)

    def refresh() -> None:
        path = write_config(ctx.settings, folder / "config.json")
        if ctx.user:
            for item in (folder, path):
                os.chown(item, ctx.user.uid, ctx.user.gid)

    refresh()
    return Geoportal(nginx=nginx(folder), refresh=refresh)


def nginx(folder: Path) -> str:
    """/mapa (the page), its config, and /vendor/ and /geoportal-static/ (the files): no CDN anywhere."""
    page = STATIC / "geoportal"
    headers = (
        f'add_header Content-Security-Policy "{CSP}" always; add_header X-Content-Type-Options nosniff always;'
        " add_header Referrer-Policy same-origin always;"
    )
    return f"""
        location = /mapa {{ alias {page}/index.html; default_type text/html; charset utf-8; {headers} }}
        location = /map {{ return 302 /mapa$is_args$args; }}
        location = /geoportal {{ return 302 /mapa$is_args$args; }}
        location = /mapa/config.json {{ alias {folder}/config.json; default_type application/json;
                                        add_header Cache-Control no-cache; }}
        location ^~ /geoportal-static/ {{ alias {page}/; expires 1h; {headers} }}
        location ^~ /vendor/ {{ alias {STATIC}/vendor/; expires 7d; add_header X-Content-Type-Options nosniff; }}
"""


def write_config(settings: Settings, path: Path) -> Path:
    """config.json of the page, written beside and renamed: a browser never reads half of it."""
    body = build_config(settings)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
    tmp.chmod(0o644)
    os.replace(tmp, path)
    return path


def build_config(settings: Settings) -> dict:
    """Themes by group, cities with extents, code-list labels, search fields and the background map."""
    known = registry(settings)
    schemas = known.schemas
    with open_catalogue(settings) as conn:
        themes = [t for t in catalogue.published_themes(conn) if qgis_project._public(t, settings)]
        cities = sorted({layer.city for layer in catalogue.layers(conn)})
        extents = {c: qgis_project._city_extent(conn, themes, c) for c in cities}
        rasters = sorted({theme for theme, _, _, _ in qgis_project._rasters(conn, None, settings)})
        results = qgis_access_layers.present(conn)  # the analysis results on the WMS (all.qgs)
    groups = []
    for group, pl, en in qgis_project.GROUPS:
        members = [t for t in themes if schemas[t].group == group]
        if members:
            groups.append(
                {
                    "id": group,
                    "pl": pl,
                    "en": en,
                    "layers": [{"name": t, "pl": schemas[t].title.pl, "en": schemas[t].title.en} for t in members],
                }
            )
    analysis = qgis_access_layers.geoportal_group(results)
    if analysis:
        groups.insert(0, analysis)  # the first group is drawn on top
    labels: dict[str, dict] = qgis_access_layers.geoportal_labels(results)
    for theme in themes:
        for name, field in schemas[theme].fields.items():
            labels.setdefault(theme, {})[name] = {
                "pl": field.title.pl if field.title else name,
                "en": field.title.en if field.title else name,
                "codes": (
                    {code: {"pl": c.pl, "en": c.en} for code, c in known.codelists[field.codelist].codes.items()}
                    if field.codelist and field.codelist in known.codelists
                    else None
                ),
            }
    server = _server_map(settings)
    return {
        "groups": groups,
        "labels": labels,
        "hidden": HIDDEN,
        "rasters": [
            {"name": r, "pl": known.rasters[r].title.pl, "en": known.rasters[r].title.en}
            for r in rasters
            if r in known.rasters
        ],
        "cities": [{"teryt": c, "bbox": _lonlat(box)} for c in cities if (box := extents[c])],
        "search": [{"theme": t, "field": f} for t, f in SEARCH if t in themes],
        "basemap": server,
    }


def _lonlat(box: tuple[float, ...]) -> list[float]:
    """An EPSG:2180 box as [west, south, east, north] in degrees, for Leaflet."""
    from pyproj import Transformer

    left, bottom, right, top = box
    west, south, east, north = Transformer.from_crs(2180, 4326, always_xy=True).transform_bounds(
        left, bottom, right, top, densify_pts=21
    )
    return [round(v, 7) for v in (west, south, east, north)]


def _server_map(settings: Settings) -> dict:
    import yaml

    try:
        server = yaml.safe_load((settings.config_dir / "server.yaml").read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        server = {}
    found = server.get("map") or {}
    return {
        "url": found.get("url") or "",
        "attribution": found.get("attribution") or "",
        "wms_layers": found.get("wms_layers") or "orthophoto",
    }
