"""A QGIS project (.qgz) of every published theme, read from the API through QGIS's OAPIF provider, with the
analysis results on top (sdi.server.qgis_access_layers).

Written as XML without QGIS, so that `sdi qgis-project` and the API's /qgis-project download work on a
server with no QGIS installed; the tests open the result in real QGIS 3.22. Each layer carries its
style from styles/<theme>.qml: the QML's elements are what QGIS keeps inside a project's <maplayer>.

QGIS 3.22 quirks taken into account: an OAPIF layer downloads its whole collection unless the URI says
restrictToRequestBBOX='1' (with pageSize about 1000); the city filter is a QGIS expression, applied on the
client to what the view's requests bring.
"""

from __future__ import annotations

import copy
import functools
import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import psycopg
from lxml import etree as ET  # C serialisation: 12x ElementTree's on a 5,000-element project
from psycopg import sql
from psycopg.rows import tuple_row
from pyproj import CRS

from sdi.core import catalogue, sqlfiles
from sdi.core.config import registry
from sdi.core.settings import Settings, get_settings
from sdi.server import qgis_access_layers

# QGIS 3.22 replaced short layer ids such as "sdi_roads" with generated ones when reading a project,
# which left the layer tree pointing at nothing (tried here); ids of the form "sdi_layer_<theme>" are kept.

# Layer-tree groups as a planner reads a map, top (drawn last) to bottom.
GROUPS = [
    ("services", "Usługi publiczne", "Public services"),
    ("transport", "Transport", "Transport"),
    ("infrastructure", "Infrastruktura", "Infrastructure"),
    ("reference", "Dane referencyjne", "Reference"),
    ("environment", "Środowisko", "Environment"),
    ("planning", "Planowanie", "Planning"),
]
# Within a group, points over lines over polygons.
_DRAW_ORDER = {"Point": 0, "MultiPoint": 0, "LineString": 1, "MultiLineString": 1, "Polygon": 2, "MultiPolygon": 2}
_QGIS_GEOMETRY = {0: "Point", 1: "Line", 2: "Polygon"}
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
