"""A QGIS project (.qgz) of every published theme, read from the API through QGIS's OAPIF provider, with the
analysis results on top (sdi.server.qgis_access_layers).

Written as XML without QGIS, so that `sdi qgis-project` and the API's /qgis-project download work on a
server with no QGIS installed; the tests open the result in real QGIS 3.22. Each layer carries its
style from styles/<theme>.qml: the QML's elements are what QGIS keeps inside a project's <maplayer>.

Its parts: the layers' XML and styles are in sdi.server.qgis_layers, the raster layers in sdi.server.qgis_rasters.
"""

from __future__ import annotations

import io
import zipfile

import psycopg
from lxml import etree as ET  # C serialisation: 12x ElementTree's on a 5,000-element project
from psycopg import sql
from psycopg.rows import tuple_row

from sdi.core import catalogue, sqlfiles
from sdi.core.config import registry
from sdi.core.settings import Settings, get_settings
from sdi.server import qgis_access_layers
from sdi.server.qgis_layers import _DRAW_ORDER, _srs, _text, vector_layer
from sdi.server.qgis_layers import install_styles as install_styles  # importable here, where it was written
from sdi.server.qgis_rasters import _add_rasters, _rasters

# Layer-tree groups as a planner reads a map, top (drawn last) to bottom.
GROUPS = [
    ("services", "Usługi publiczne", "Public services"),
    ("transport", "Transport", "Transport"),
    ("infrastructure", "Infrastruktura", "Infrastructure"),
    ("reference", "Dane referencyjne", "Reference"),
    ("environment", "Środowisko", "Environment"),
    ("planning", "Planowanie", "Planning"),
]
POLAND_2180 = (144_000.0, 129_000.0, 909_000.0, 790_000.0)  # PUWG 1992 envelope of the country


def build(
    url: str, city: str | None = None, settings: Settings | None = None, conn: psycopg.Connection | None = None
) -> bytes:
    """The .qgz bytes of a project over the API at `url`, optionally filtered and zoomed to one city.

    It reads only the data views, so the API's reader connection (`conn`) can build it.
    """
    settings = settings or get_settings()
    if city is not None:
        sqlfiles.check_city(city)
    if conn is None:
        with catalogue.open_catalogue(settings) as own:
            return build(url, city, settings, own)
    themes = [t for t in catalogue.published_themes(conn) if _public(t, settings)]
    extent = _city_extent(conn, themes, city) if city else None
    rasters = _rasters(conn, city, settings)
    root = _project(url.rstrip("/"), city, themes, extent or POLAND_2180, settings)
    qgis_access_layers.add(root, qgis_access_layers.present(conn, city), url.rstrip("/"), city, settings)
    _add_rasters(root, url.rstrip("/"), rasters, settings)
    qgs = ET.tostring(root, encoding="unicode")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as qgz:
        qgz.writestr("sdi.qgs", "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + qgs)
    return buffer.getvalue()


def _public(theme: str, settings: Settings) -> bool:
    schema = registry(settings).schemas.get(theme)
    return schema is not None and schema.access == "public"


def _city_extent(conn: psycopg.Connection, themes: list[str], city: str) -> tuple[float, ...] | None:
    # Each load's extent was recorded when it closed (migration 0014): a scan of the view per city and theme
    # planned every city's partition and cost 8 ms a city at 300 cities. Only a load without one is scanned.
    cur = conn.cursor(row_factory=tuple_row)
    recorded = cur.execute(
        "SELECT theme, xmin, ymin, xmax, ymax FROM data.sdi_layers WHERE city = %s AND theme = ANY(%s)",
        [city, themes],
    ).fetchall()
    boxes = [tuple(r[1:]) for r in recorded if r[1] is not None]
    for theme in (r[0] for r in recorded if r[1] is None):
        query = sql.SQL(sqlfiles.load("city_extent.sql")).format(table=sqlfiles.theme_table(theme))
        row = cur.execute(query, {"city": city}).fetchone()
        if row:
            boxes.append(row)
    if not boxes:
        return None
    xmin, ymin = min(b[0] for b in boxes), min(b[1] for b in boxes)
    xmax, ymax = max(b[2] for b in boxes), max(b[3] for b in boxes)
    pad = max(xmax - xmin, ymax - ymin, 200.0) * 0.05  # a margin, and a point city is not a zero-size view
    return (xmin - pad, ymin - pad, xmax + pad, ymax + pad)


def _project(
    url: str, city: str | None, themes: list[str], extent, settings: Settings, postgis: str | None = None
) -> ET.Element:
    """The project's XML; with `postgis` (a libpq service name) its layers read data.<theme> directly (the WMS)."""
    title = "sdi" + (f" – {city}" if city else "")
    root = ET.Element("qgis", {"projectname": title, "version": "3.22.16-Białowieża"})
    ET.SubElement(root, "title").text = title
    ET.SubElement(root, "projectCrs").append(_srs(2180))
    # QGIS reads <projectCrs> only when this project property says projections are on.
    properties = ET.SubElement(ET.SubElement(root, "properties"), "SpatialRefSys")
    properties.append(_text("ProjectionsEnabled", "1", type="int"))
    schemas = registry(settings).schemas
    tree = ET.SubElement(root, "layer-tree-group")
    ET.SubElement(tree, "customproperties")
    layers = ET.SubElement(root, "projectlayers")
    for group, pl, en in GROUPS:
        members = sorted(
            (t for t in themes if schemas[t].group == group), key=lambda t: (_DRAW_ORDER[schemas[t].geometry], t)
        )
        if not members:
            continue
        node = ET.SubElement(
            tree,
            "layer-tree-group",
            {"name": f"{pl} / {en}" if pl != en else pl, "checked": "Qt::Checked", "expanded": "1"},
        )
        ET.SubElement(node, "customproperties")
        for theme in members:
            name = f"{schemas[theme].title.pl} / {schemas[theme].title.en}"
            geometry = schemas[theme].geometry
            layers.append(vector_layer(node, theme, name, geometry, settings, url, city, postgis))
    xmin, ymin, xmax, ymax = (f"{v:.3f}" for v in extent)
    canvas = ET.SubElement(root, "mapcanvas", {"name": "theMapCanvas", "annotationsVisible": "1"})
    canvas.append(_text("units", "meters"))
    box = ET.SubElement(canvas, "extent")
    for key, value in (("xmin", xmin), ("ymin", ymin), ("xmax", xmax), ("ymax", ymax)):
        box.append(_text(key, value))
    ET.SubElement(canvas, "destinationsrs").append(_srs(2180))
    view = ET.SubElement(root, "ProjectViewSettings", {"UseProjectScales": "0"})
    ET.SubElement(
        view, "DefaultViewExtent", {"xmin": xmin, "ymin": ymin, "xmax": xmax, "ymax": ymax, "crs": "EPSG:2180"}
    )
    return root
