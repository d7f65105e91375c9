"""A theme's layer in a QGIS project (sdi.server.qgis_project), written as XML: its data source over the API (QGIS's
OAPIF provider) or over PostGIS, and its <maplayer> carrying its style from styles/<theme>.qml, whose elements are
what QGIS keeps inside a project's <maplayer>. The same styles are installed into PostGIS's layer_styles for QGIS
users who open the views directly.

QGIS 3.22 quirks taken into account: an OAPIF layer downloads its whole collection unless the URI says
restrictToRequestBBOX='1' (with pageSize about 1000); the city filter is a QGIS expression, applied on the
client to what the view's requests bring.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path

import psycopg
from lxml import etree as ET  # C serialisation: 12x ElementTree's on a 5,000-element project
from pyproj import CRS

from sdi.core import sqlfiles
from sdi.core.config import registry
from sdi.core.settings import Settings, get_settings
from sdi.server import qgis_access_layers

# QGIS 3.22 replaced short layer ids such as "sdi_roads" with generated ones when reading a project,
# which left the layer tree pointing at nothing (tried here); ids of the form "sdi_layer_<theme>" are kept.

# Within a group, points over lines over polygons.
_DRAW_ORDER = {"Point": 0, "MultiPoint": 0, "LineString": 1, "MultiLineString": 1, "Polygon": 2, "MultiPolygon": 2}
_QGIS_GEOMETRY = {0: "Point", 1: "Line", 2: "Polygon"}


def vector_layer(
    node: ET.Element,
    theme: str,
    name: str,
    geometry: str,
    settings: Settings,
    url: str,
    city: str | None,
    postgis: str | None = None,
    checked: bool = True,
) -> ET.Element:
    """The theme's entry in the layer-tree group `node`, and its styled <maplayer> (returned), over the API at
    `url` or, with `postgis` (a libpq service name), over the view data.<theme>."""
    source = _pg_source(postgis, theme, geometry, city) if postgis else _source(url, theme, city)
    provider = "postgres" if postgis else "OAPIF"
    ET.SubElement(
        node,
        "layer-tree-layer",
        {
            "id": f"sdi_layer_{theme}",
            "name": name,
            "source": source,
            "providerKey": provider,
            "checked": "Qt::Checked" if checked else "Qt::Unchecked",
            "expanded": "0",
        },
    ).append(ET.Element("customproperties"))
    return _maplayer(theme, name, source, geometry, settings, provider)


def _source(url: str, theme: str, city: str | None) -> str:
    """The OAPIF data source URI, as QGIS 3.22 writes it."""
    parts = [
        "pageSize='1000'",
        "pagingEnabled='true'",
        "preferCoordinatesForWfsT11='false'",
        "restrictToRequestBBOX='1'",
        f"typename='{theme}'",
        f"url='{url}'",
        "version='OGC_API_FEATURES'",
    ]
    if city:
        parts.insert(0, "filter='\"city\" = \\'" + city + "\\''")
    return " ".join(parts)


def _pg_source(service: str, theme: str, geometry: str, city: str | None) -> str:
    """A PostGIS data source URI as QGIS writes it: the view data.<theme>, through a libpq service (no password)."""
    where = f"\"city\" = '{city}'" if city else ""  # city passed check_city: seven digits
    return (
        f"service='{service}' key='fid' estimatedmetadata=true srid=2180 type={geometry} "
        f'checkPrimaryKeyUnicity=\'0\' table="data"."{theme}" (geom) sql={where}'
    )


def _maplayer(
    theme: str, name: str, source: str, geometry: str, settings: Settings, provider: str = "OAPIF"
) -> ET.Element:
    style = _style(settings.styles_dir / f"{theme}.qml")
    layer = ET.Element(
        "maplayer",
        {
            "type": "vector",
            "geometry": _QGIS_GEOMETRY[_DRAW_ORDER[geometry]],
            "labelsEnabled": style.get("labelsEnabled", "0"),
            "autoRefreshEnabled": "0",
            "minScale": "100000000",
            "maxScale": "0",
            "hasScaleBasedVisibilityFlag": "0",
        },
    )
    layer.append(_text("id", f"sdi_layer_{theme}"))
    layer.append(_text("datasource", source))
    layer.append(_text("layername", name))
    # QGIS 3.22's OAPIF provider reads GeoJSON in CRS84 whatever srsname says; the project reprojects.
    ET.SubElement(layer, "srs").append(_srs(4326 if provider == "OAPIF" else 2180))
    layer.append(_text("provider", provider, encoding="UTF-8"))
    for child in style:
        layer.append(copy.deepcopy(child))  # the parsed style is shared by every project written
    return layer


def _style(path: Path) -> ET.Element:
    try:
        return _parsed_style(path, path.stat().st_mtime_ns)
    except (OSError, ET.ParseError):
        return ET.Element("qgis")  # no style: QGIS draws the layer with a default symbol


@functools.lru_cache(maxsize=64)
def _parsed_style(path: Path, mtime_ns: int) -> ET.Element:
    """A QML parsed once per version of the file: every city's WMS project embeds each theme's style (8 ms a
    parse; 2,477 cities x the themes)."""
    return ET.parse(str(path), ET.XMLParser(remove_comments=True)).getroot()


def _srs(epsg: int) -> ET.Element:
    """A <spatialrefsys> as QGIS reads it: it needs the WKT (an authid alone leaves the CRS unset)."""
    crs = CRS.from_epsg(epsg)
    srs = ET.Element("spatialrefsys", {"nativeFormat": "Wkt"})
    for tag, text in (
        ("wkt", crs.to_wkt()),
        ("authid", f"EPSG:{epsg}"),
        ("description", crs.name),
        ("geographicflag", "true" if crs.is_geographic else "false"),
    ):
        srs.append(_text(tag, text))
    return srs


def _text(tag: str, text: str, **attrs: str) -> ET.Element:
    element = ET.Element(tag, attrs)
    element.text = text
    return element


def install_styles(conn: psycopg.Connection, settings: Settings | None = None) -> list[str]:
    """Write every theme's style into public.layer_styles as its default; returns the themes styled.

    The analysis results' views (data.access_*) get theirs too: QGIS opening one from PostGIS draws it
    met / not met / unreachable at once."""
    settings = settings or get_settings()
    styled = []
    with conn.transaction():
        conn.execute(sqlfiles.load("layer_styles.sql"))
        for theme in sorted([*registry(settings).schemas, *qgis_access_layers.LAYERS]):
            if _put_style(conn, theme, settings):
                styled.append(theme)
    return styled


def _put_style(conn: psycopg.Connection, theme: str, settings: Settings) -> bool:
    qml, sld = (settings.styles_dir / f"{theme}{suffix}" for suffix in (".qml", ".sld"))
    if not (qml.exists() and sld.exists()):
        return False
    params = {
        "theme": theme,
        "name": f"sdi {theme}",
        "qml": qml.read_text(encoding="utf-8"),
        "sld": sld.read_text(encoding="utf-8"),
    }
    # Bound parameters allow one statement per execute: the file's statements run one by one.
    text = "\n".join(line for line in sqlfiles.load("layer_style_put.sql").splitlines() if not line.startswith("--"))
    for statement in filter(str.strip, text.split(";")):
        conn.execute(statement, params)
    return True
