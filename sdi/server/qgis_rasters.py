"""The raster layers of a QGIS project (sdi.server.qgis_project): each current public raster, read as the city's COG
over HTTP or from a local file, drawn in its legend's classes or along its theme's colour ramp.
"""

from __future__ import annotations

from collections.abc import Callable

import psycopg
from lxml import etree as ET  # C serialisation: 12x ElementTree's on a 5,000-element project

from sdi.core import catalogue
from sdi.core.config import registry
from sdi.core.settings import Settings
from sdi.server.qgis_layers import _srs, _text


def _rasters(conn: psycopg.Connection, city: str | None, settings: Settings) -> list[tuple]:
    """(theme, city, low, high) of every current public raster, orthophoto first: it lies under everything else."""
    schemas = registry(settings).rasters
    found = [
        (theme, r.city, r.low, r.high)
        for theme, rasters in catalogue.current_rasters(conn).items()
        if theme in schemas and schemas[theme].access == "public"
        for r in rasters
        if city in (None, r.city)
    ]
    return sorted(found, key=lambda r: (r[0] != "orthophoto", r[:2]))


def _add_rasters(
    root: ET.Element,
    url: str,
    rasters: list[tuple],
    settings: Settings,
    raster_source: Callable[[str, str], str | None] | None = None,
) -> None:
    """A bottom group of raster layers, each the city's COG read by GDAL over HTTP range requests.

    QGIS 3.22 has no OGC API Coverages client; /vsicurl/ reads only the tiles and overview level in view.
    Only the orthophoto is switched on: the other grids would hide it and each other.
    """
    if not rasters:
        return
    schemas = registry(settings).rasters
    tree, layers = root.find("layer-tree-group"), root.find("projectlayers")
    if tree is None or layers is None:  # the project template always has both
        raise ValueError("the QGIS project template lacks its layer tree or its layers")
    node = ET.SubElement(
        tree, "layer-tree-group", {"name": "Rastry / Rasters", "checked": "Qt::Checked", "expanded": "1"}
    )
    ET.SubElement(node, "customproperties")
    for theme, city, low, high in reversed(rasters):  # the first in the tree is drawn on top
        name, lid = f"{schemas[theme].title.pl} / {schemas[theme].title.en} – {city}", f"sdi_layer_{theme}_{city}"
        source = raster_source(theme, city) if raster_source else f"/vsicurl/{url}/rasters/{theme}/{city}.tif"
        if source is None:
            continue
        checked = "Qt::Checked" if theme == "orthophoto" else "Qt::Unchecked"
        ET.SubElement(
            node,
            "layer-tree-layer",
            {"id": lid, "name": name, "source": source, "providerKey": "gdal", "checked": checked, "expanded": "0"},
        ).append(ET.Element("customproperties"))
        layer = ET.SubElement(
            layers,
            "maplayer",
            {
                "type": "raster",
                "autoRefreshEnabled": "0",
                "minScale": "1e+08",
                "maxScale": "0",
                "hasScaleBasedVisibilityFlag": "0",
            },
        )
        for tag, text in (("id", lid), ("datasource", source), ("layername", name)):
            layer.append(_text(tag, text))
        ET.SubElement(layer, "srs").append(_srs(2180))
        layer.append(_text("provider", "gdal"))
        renderer = _raster_renderer(schemas[theme], low, high)
        if renderer is not None:
            ET.SubElement(layer, "pipe").append(renderer)


def _raster_renderer(schema, low: float | None, high: float | None) -> ET.Element | None:
    """Classes in their legend colours; a one-band grid along the theme's ramp over its 2-98% range.

    Pictures (orthophoto, drawings) keep QGIS's own red-green-blue renderer.
    """
    if schema.classes:
        renderer = ET.Element("rasterrenderer", {"type": "paletted", "band": "1", "opacity": "1", "alphaBand": "-1"})
        palette = ET.SubElement(renderer, "colorPalette")
        for value, code in schema.classes.items():
            label = f"{code.pl} / {code.en}" if code.pl != code.en else code.pl
            ET.SubElement(
                palette,
                "paletteEntry",
                {"value": str(value), "alpha": "255", "color": code.color or "#808080", "label": label},
            )
        return renderer
    if not schema.ramp or low is None or high is None or high <= low:
        return None
    renderer = ET.Element(
        "rasterrenderer",
        {
            "type": "singlebandpseudocolor",
            "band": "1",
            "opacity": "1",
            "alphaBand": "-1",
            "classificationMin": repr(low),
            "classificationMax": repr(high),
        },
    )
    shader = ET.SubElement(
        ET.SubElement(renderer, "rastershader"),
        "colorrampshader",
        {
            "colorRampType": "INTERPOLATED",
            "classificationMode": "1",
            "clip": "0",
            "minimumValue": repr(low),
            "maximumValue": repr(high),
        },
    )
    steps = len(schema.ramp) - 1
    for i, colour in enumerate(schema.ramp):
        value = low + (high - low) * i / steps
        ET.SubElement(
            shader,
            "item",
            {
                "alpha": "255",
                "value": repr(value),
                "color": colour,
                "label": f"{value:.0f} {schema.unit or ''}".strip(),
            },
        )
    return renderer
