"""The WMS (view service) of every public theme: QGIS Server, in the themes' own styles, mounted at /wms.

    client -> nginx /wms, /wms/<TERYT> -> unix socket -> sdi/server/qgis_server_app.py (Debian's /usr/bin/python3:
              a pool of single-threaded processes, each its own QgsServer) -> PostGIS as the reader

The projects it serves are generated here, in the serve parent, from the catalogue: one of every city
(`all.qgs`) and one per city (`<TERYT>.qgs`, filtered and zoomed to it), with the layers, groups and styles of
`sdi qgis-project` but reading `data.<theme>` straight from PostGIS (an OAPIF layer would make QGIS Server
call back into the API's own workers). They name a libpq service, never a password: the server process
writes its own service file from the reader's URL in its environment. Restricted themes are never in them.
The art. 13f analysis results are, once a run published them (sdi.server.qgis_access_layers).
"""

from __future__ import annotations

import functools
import logging
import os
import subprocess
from datetime import date
from pathlib import Path

import psycopg
import yaml
from lxml import etree as ET  # C serialisation: 12x ElementTree's on a 5,000-element project

from sdi.core import catalogue
from sdi.core.catalogue import open_catalogue
from sdi.core.config import registry
from sdi.core.db import scalar
from sdi.core.settings import Settings
from sdi.server import qgis_access_layers, qgis_project
from sdi.server.raster_files import raster_file
from sdi.server.services import Service, ServiceContext

logger = logging.getLogger(__name__)

QGIS_PYTHON = "/usr/bin/python3"  # the only Python with Debian's QGIS bindings
APP = Path(__file__).resolve().parent / "qgis_server_app.py"
PG_SERVICE = "sdi_wms"
WORKERS = 2  # QGIS Server is not thread-safe: one request per process; the machines have 2 cores
# Offered CRSs: PUWG 1992 (storage), the four PUWG 2000 zones, Web Mercator and WGS 84 (both axis orders).
CRS_LIST = ["EPSG:2180", "EPSG:2176", "EPSG:2177", "EPSG:2178", "EPSG:2179", "EPSG:3857", "EPSG:4326", "CRS:84"]


def service(ctx: ServiceContext) -> Service | None:
    """QGIS Server at /wms, when Debian's QGIS bindings are installed (`make setup`)."""
    if not _qgis_server_installed():
        logger.warning("the WMS is off: QGIS Server's Python bindings are missing (run `make setup`)")
        return None
    folder = ctx.run_dir / "wms"
    folder.mkdir(exist_ok=True)
    socket = ctx.run_dir / "wms.sock"

    def refresh() -> None:
        write_projects(ctx.settings, folder, ctx.public_url)
        if ctx.user:
            for path in [folder, *folder.iterdir()]:
                os.chown(path, ctx.user.uid, ctx.user.gid)

    refresh()
    # The geoportal page and the vendored assets are a service of their own (sdi.server.geoportal): they stay
    # up when QGIS Server is not installed.
    nginx = _nginx(socket)
    return Service(
        name="wms",
        command=[
            QGIS_PYTHON,
            "-P",
            str(APP),
            "--socket",
            str(socket),
            "--projects",
            str(folder),
            "--workers",
            str(WORKERS),
            "--service",
            PG_SERVICE,
        ],
        nginx=nginx,
        env={"QT_QPA_PLATFORM": "offscreen", "QGIS_SERVER_LOG_LEVEL": "2", "QGIS_SERVER_LOG_STDERR": "1"},
        on_change=refresh,
    )


def _qgis_server_installed() -> bool:
    if not Path(QGIS_PYTHON).exists():
        return False
    done = subprocess.run(
        [QGIS_PYTHON, "-c", "import qgis.server"],
        capture_output=True,
        check=False,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        timeout=60,
    )
    return done.returncode == 0


def _nginx(socket: Path) -> str:
    proxy = (
        f"proxy_pass http://unix:{socket}:; proxy_set_header Host $http_host; proxy_read_timeout 65s;"
        " proxy_set_header X-Forwarded-Proto $scheme;"
    )
    # /wms: every city; /wms/<TERYT>: one gmina. Anything else under /wms/ is the server's 404.
    return f"""
        location = /wms {{ {proxy} }}
        location ^~ /wms/ {{ {proxy} }}
"""


def write_projects(settings: Settings, folder: Path, public_url: str) -> list[str]:
    """Write all.qgs and <TERYT>.qgs of every city from the catalogue, atomically; returns the project names.

    A city's project is rewritten only when what it is made of changed (its loads, rasters and analysis
    runs, the published themes, the settings, styles and code): at 2,477 cities a load of one city rewrites
    two projects, not 2,478 (40 ms each)."""
    with open_catalogue(settings) as conn:
        themes = [t for t in catalogue.published_themes(conn) if qgis_project._public(t, settings)]
        layers = catalogue.layers(conn)
        cities = sorted({layer.city for layer in layers})
        rasters = qgis_project._rasters(conn, None, settings)
        runs = _analysis_runs(conn)
        common = [themes, public_url, date.today().isoformat(), _files_stamp(settings)]
        names = ["all.qgs", *(f"{city}.qgs" for city in cities)]
        for city, name in zip([None, *cities], names, strict=True):
            mine = [r for r in rasters if city is None or r[1] == city]
            loads = sorted((x.theme, x.load_id) for x in layers if city is None or x.city == city)
            stamp = repr([common, loads, mine, [r for r in runs if city is None or r[0] == city]])
            if _STAMPS.get(folder / name) == stamp and (folder / name).exists():
                continue
            _write(folder / name, _root(conn, settings, themes, city, mine, public_url))
            _STAMPS[folder / name] = stamp
    for stale in folder.glob("*.qgs"):
        if stale.name not in names:
            stale.unlink()  # a city removed from the catalogue is no longer served
            _STAMPS.pop(stale, None)
    return names


# What each project was last written from, in this serve parent (its run folder is new at every start).
_STAMPS: dict[Path, str] = {}


def _analysis_runs(conn: psycopg.Connection) -> list[tuple]:
    """(city, run_id, unit) of the published analysis runs: a new run changes that city's result layers."""
    if scalar(conn.execute("SELECT to_regclass('analysis.current_runs')")) is None:
        return []
    return [tuple(r) for r in conn.execute("SELECT city, run_id, unit FROM analysis.current_runs ORDER BY 1, 2, 3")]


def _files_stamp(settings: Settings) -> list:
    """The styles, schemas and settings a project embeds, and this module's code, by modification time."""
    files = [Path(__file__), settings.config_dir / "server.yaml"]
    for folder in (settings.styles_dir, settings.config_dir / "schemas"):
        files.extend(sorted(folder.glob("*.*")) if folder.is_dir() else [])
    return [(str(f), f.stat().st_mtime_ns) for f in files if f.exists()]


def _root(
    conn: psycopg.Connection,
    settings: Settings,
    themes: list[str],
    city: str | None,
    rasters: list[tuple],
    public_url: str,
) -> ET.Element:
    extent = _extent(conn, themes, city) or qgis_project.POLAND_2180
    root = qgis_project._project(public_url, city, themes, extent, settings, postgis=PG_SERVICE)
    # the analysis results' views that hold rows (of this city): a missing or empty one would be a broken layer
    results = qgis_access_layers.present(conn, city)
    qgis_access_layers.add(root, results, public_url, city, settings, postgis=PG_SERVICE)
    schemas = registry(settings).schemas

    def local_cog(theme: str, city_: str) -> str | None:
        row = conn.execute(
            "SELECT path FROM data.sdi_rasters WHERE theme = %s AND city = %s", [theme, city_]
        ).fetchone()
        path = raster_file(row[0], theme, city_, settings.raster_dir_abs) if row else None
        return str(path) if path else None  # only the server's own COG, never a path a row names

    qgis_project._add_rasters(root, public_url, rasters, settings, raster_source=local_cog)
    _group_rasters(root)
    for layer in root.iter("maplayer"):
        theme = layer.findtext("id", "").removeprefix("sdi_layer_")
        layer.append(qgis_project._text("shortname", theme))  # the WMS layer name: the theme (city for rasters)
        about = schemas[theme].description if theme in schemas else None
        if about:
            layer.append(qgis_project._text("abstract", f"{about.pl}\n\n{about.en}"))
    for group in root.iter("layer-tree-group"):
        name = group.get("name", "")
        short = next(
            (g for g, pl, en in qgis_project.GROUPS if name in (pl, f"{pl} / {en}")),
            "rasters" if name.startswith("Rastry") else None,
        )
        props = group.find("customproperties")
        if short and props is not None:
            ET.SubElement(props, "property", {"key": "wmsShortName", "value": short})
    properties = root.find("properties")
    if properties is None:  # the project qgis_project writes always has them
        raise ValueError("the QGIS project has no <properties>")
    _properties(properties, settings, city, extent, public_url)
    return root


def _group_rasters(root: ET.Element) -> None:
    """Each raster theme its own WMS layer over every city (`orthophoto`), the cities' COGs inside it."""
    rasters = next((g for g in root.iter("layer-tree-group") if g.get("name", "").startswith("Rastry")), None)
    if rasters is None:
        return
    themes: dict[str, ET.Element] = {}
    for node in list(rasters.findall("layer-tree-layer")):
        theme = node.get("id", "").removeprefix("sdi_layer_").rsplit("_", 1)[0]
        if theme not in themes:
            title = node.get("name", theme).rsplit(" – ", 1)[0]
            checked = node.get("checked", "")
            themes[theme] = ET.SubElement(
                rasters, "layer-tree-group", {"name": title, "checked": checked, "expanded": "0"}
            )
            ET.SubElement(themes[theme], "customproperties").append(
                ET.Element("property", {"key": "wmsShortName", "value": theme})
            )
        rasters.remove(node)
        themes[theme].append(node)


def _extent(conn: psycopg.Connection, themes: list[str], city: str | None) -> tuple[float, ...] | None:
    if city:
        return qgis_project._city_extent(conn, themes, city)
    boxes = [
        b
        for b in (
            qgis_project._city_extent(conn, themes, c) for c in sorted({layer.city for layer in catalogue.layers(conn)})
        )
        if b
    ]
    if not boxes:
        return None
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def _properties(props: ET.Element, settings: Settings, city: str | None, extent, public_url: str) -> None:
    """The project's OWS settings, as QGIS Server reads them: metadata, CRSs, extent, INSPIRE."""
    server = _server_yaml(settings)
    title, about, contact = server.get("title", {}), server.get("description", {}), server.get("contact", {})
    suffix = f" – {city}" if city else ""
    url = f"{public_url.rstrip('/')}/wms" + (f"/{city}" if city else "")
    entries = {
        "WMSServiceCapabilities": ("bool", "true"),
        "WMSUrl": ("QString", url),
        "WMSRootName": ("QString", "sdi"),
        "WMSServiceTitle": ("QString", f"{title.get('pl', 'sdi')} / {title.get('en', 'sdi')}{suffix}"),
        "WMSServiceAbstract": ("QString", f"{about.get('pl', '')}\n\n{about.get('en', '')}".strip()),
        "WMSContactOrganization": ("QString", contact.get("name", "")),
        "WMSContactPerson": ("QString", contact.get("name", "")),
        "WMSContactPosition": ("QString", contact.get("position", "")),
        "WMSContactMail": ("QString", contact.get("email", "")),
        "WMSContactPhone": ("QString", contact.get("phone", "")),
        "WMSFees": ("QString", "brak / none"),
        "WMSAccessConstraints": ("QString", server.get("license", {}).get("name", "")),
        "WMSOnlineResource": ("QString", server.get("url", "")),
        "WMSAddWktGeometry": ("bool", "false"),
        "WMSFeatureInfoUseAttributeFormSettings": ("bool", "false"),
        "WMSMaxWidth": ("QString", "4096"),
        "WMSMaxHeight": ("QString", "4096"),
        "WMSSegmentizeFeatureInfoGeometry": ("bool", "false"),
        "WMSPrecision": ("QString", "2"),
    }
    for key, (kind, value) in entries.items():
        props.append(qgis_project._text(key, value, type=kind))
    lists = {
        "WMSCrsList": CRS_LIST,
        "WMSExtent": [f"{v:.2f}" for v in extent],
        "WMSKeywordList": [str(k) for k in server.get("keywords", [])],
    }
    for key, values in lists.items():
        node = ET.SubElement(props, key, {"type": "QStringList"})
        for value in values:
            node.append(qgis_project._text("value", value))
    inspire = ET.SubElement(props, "WMSInspire")
    for key, kind, value in (
        ("activated", "bool", "true"),
        ("language", "QString", "pol"),
        ("metadataUrl", "QString", f"{public_url.rstrip('/')}/collections?f=json"),
        ("metadataUrlType", "QString", "application/json"),
        ("temporalReference", "bool", "true"),
        ("metadataDate", "QString", date.today().isoformat()),
    ):
        inspire.append(qgis_project._text(key, value, type=kind))


def _server_yaml(settings: Settings) -> dict:
    path = settings.config_dir / "server.yaml"
    try:
        return _parsed_yaml(path, path.stat().st_mtime_ns)
    except OSError:
        return {}


@functools.lru_cache(maxsize=4)
def _parsed_yaml(path: Path, mtime_ns: int) -> dict:
    """server.yaml parsed once per version of the file: every city's project reads it (17 ms a city)."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return {}


def _write(path: Path, root: ET.Element) -> str:
    """Write beside, then rename: a worker never reads half a project."""
    tmp = path.with_suffix(".qgs.tmp")
    tmp.write_text(
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + ET.tostring(root, encoding="unicode"),
        encoding="utf-8",
    )
    tmp.chmod(0o640)
    os.replace(tmp, path)
    return path.name
