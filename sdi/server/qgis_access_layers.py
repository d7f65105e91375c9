"""The art. 13f analysis results (issue 21) as a group of layers in the QGIS projects: the WMS's and /mapa's
(PostGIS) and `sdi qgis-project`'s (OGC API Features).

The results are views (data.access_<unit>, data.access_summary; migrations 0011 and 0012) with no schema in
config/schemas, so qgis_project's themes leave them out; they carry their own titles here and their styles
from styles/access_*.qml (by distance class, migration 0017: met within half the limits dark green, met light
green, not met within 1.5x orange, beyond red, unreachable grey). A view enters a project only when it
holds rows (for a city's project: rows of that city): QGIS Server answers 500 for a layer it cannot open, and
an empty layer would only put a blank entry in the legend.
"""

from __future__ import annotations

import logging

import psycopg
from lxml import etree as ET  # C serialisation: 12x ElementTree's on a 5,000-element project
from psycopg import sql
from psycopg.rows import tuple_row

from sdi.core import catalogue
from sdi.core.db import scalar
from sdi.core.settings import Settings

logger = logging.getLogger(__name__)

GROUP = ("analysis", "Standardy dostępności (art. 13f)", "Access standards (art. 13f)")
# Drawn top to bottom as listed: points over buildings over parcels over the summary areas.
LAYERS = {
    "access_addresses": ("Dostępność – punkty adresowe", "Access – address points", "Point"),
    "access_buildings": ("Dostępność – budynki mieszkalne", "Access – residential buildings", "MultiPolygon"),
    "access_standards": ("Dostępność – działki", "Access – parcels", "MultiPolygon"),
    "access_summary": ("Dostępność – podsumowanie obszarów", "Access – area summaries", "MultiPolygon"),
}
ABSTRACT = (
    "Standardy dostępności do infrastruktury społecznej (art. 13f ustawy o planowaniu i zagospodarowaniu"
    " przestrzennym), liczone wzdłuż ulic i ścieżek: spełnia do połowy progu (ciemnozielony), spełnia (jasnozielony),"
    " nie spełnia do 1,5× progu (pomarańczowy), nie spełnia ponad 1,5× progu (czerwony), nieosiągalny (szary)."
    "\n\nAccess standards to social infrastructure (art. 13f of the planning act), measured along streets and"
    " paths: met within half the limit (dark green), met (light green), not met within 1.5× the limit (orange),"
    " not met beyond 1.5× the limit (red), unreachable (grey)."
)
STATUS = {
    "met": ("spełnia standardy", "meets the standards"),
    "not_met": ("nie spełnia", "does not meet"),
    "unreachable": ("nieosiągalny", "unreachable"),
}
# The class the styles colour by (migration 0017): the worst distance against its limit.
DISTANCE_CLASS = {
    "met_half": ("spełnia, do połowy progu", "meets, within half the limit"),
    "met": ("spełnia", "meets the standards"),
    "not_met_near": ("nie spełnia, do 1,5× progu", "does not meet, within 1.5× the limit"),
    "not_met_far": ("nie spełnia, ponad 1,5× progu", "does not meet, beyond 1.5× the limit"),
    "unreachable": ("nieosiągalny", "unreachable"),
}


def present(conn: psycopg.Connection, city: str | None = None) -> list[str]:
    """The result views that hold rows (of `city`, when given), in drawing order top to bottom."""
    published = set(catalogue.published_themes(conn))  # data.sdi_derived_layers: only views with rows
    found = [theme for theme in LAYERS if theme in published]
    if city is None:
        return found
    cur = conn.cursor(row_factory=tuple_row)
    query = "SELECT EXISTS (SELECT FROM {} WHERE city = %s)"
    return [t for t in found if scalar(cur.execute(sql.SQL(query).format(sql.Identifier("data", t)), [city]))]


def add(
    root: ET.Element, themes: list[str], url: str, city: str | None, settings: Settings, postgis: str | None = None
) -> None:
    """The results group at the top of the project's layer tree (drawn over everything), one layer per view.

    With `postgis` (a libpq service name) the layers read the views directly, as the WMS does; else through
    the API at `url`. qgis_layers (through qgis_project) writes the sources and the styled <maplayer>, as for
    the loaded themes.
    """
    from sdi.server import qgis_project  # the project writer imports this module's users, not the reverse

    if not themes:
        return
    tree, layers = root.find("layer-tree-group"), root.find("projectlayers")
    if tree is None or layers is None:  # qgis_project's project always has both
        raise ValueError("the QGIS project lacks its layer tree or its layers")
    short, pl, en = GROUP
    node = ET.Element("layer-tree-group", {"name": f"{pl} / {en}", "checked": "Qt::Checked", "expanded": "1"})
    ET.SubElement(ET.SubElement(node, "customproperties"), "property", {"key": "wmsShortName", "value": short})
    tree.insert(1, node)  # after the tree's own <customproperties>: the first group is drawn on top
    for theme in themes:
        title_pl, title_en, geometry = LAYERS[theme]
        # the summary areas lie under the units and would hide them: on only where asked for
        layer = qgis_project.vector_layer(
            node, theme, f"{title_pl} / {title_en}", geometry, settings, url, city, postgis, theme != "access_summary"
        )
        if postgis:
            layer.append(qgis_project._text("abstract", ABSTRACT))
        layers.append(layer)


def geoportal_group(themes: list[str]) -> dict | None:
    """The results as one group of /mapa's config.json, with the status codes' labels; None without results."""
    if not themes:
        return None
    short, pl, en = GROUP
    return {
        "id": short,
        "pl": pl,
        "en": en,
        "layers": [{"name": t, "pl": LAYERS[t][0], "en": LAYERS[t][1]} for t in themes if t != "access_summary"],
    }


def geoportal_labels(themes: list[str]) -> dict[str, dict]:
    """Field labels for /mapa's feature panel: the status and the distance class in words instead of codes."""
    status = {
        "pl": "standardy art. 13f",
        "en": "art. 13f standards",
        "codes": {code: {"pl": p, "en": e} for code, (p, e) in STATUS.items()},
    }
    distance = {
        "pl": "klasa odległości",
        "en": "distance class",
        "codes": {code: {"pl": p, "en": e} for code, (p, e) in DISTANCE_CLASS.items()},
    }
    # the summary areas have a status, no distance class
    return {t: {"status": status} | ({"distance_class": distance} if t != "access_summary" else {}) for t in themes}
