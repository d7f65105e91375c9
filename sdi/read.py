"""Open a source file: find its layer, encoding and CRS, and hand back a frame plus what was detected."""

from __future__ import annotations

import logging
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pyogrio
from pyogrio.errors import DataSourceError, DataLayerError
from pyproj import CRS
from pyproj.exceptions import CRSError

from sdi.errors import InputError

logger = logging.getLogger(__name__)

# Files inside a zip that can be read on their own, in order of preference.
_READABLE = (".shp", ".gpkg", ".geojson", ".json", ".gml", ".kml", ".csv")


@dataclass
class Source:
    """A read source: its features and what was found out about it."""

    path: Path
    layer: str
    frame: gpd.GeoDataFrame
    detected: dict = field(default_factory=dict)


def read(path: Path, layer: str | None = None, encoding: str | None = None, crs: str | None = None,
         require_crs: bool = True) -> Source:
    """Read one layer of a vector source into a GeoDataFrame in its own CRS."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder", "check the path")
    gdal_path = _gdal_path(path)
    layer = _pick_layer(gdal_path, layer)
    try:
        frame = pyogrio.read_dataframe(gdal_path, layer=layer, encoding=encoding, fid_as_index=True,
                                       **_open_options(gdal_path))
    except (DataSourceError, DataLayerError) as exc:
        raise InputError(f"{path}: cannot be read as vector data ({_first_line(exc)})",
                         "give a shapefile, GeoPackage, GeoJSON, GML, KML, CSV or a zip of one") from None
    detected = {"driver": pyogrio.read_info(gdal_path, layer=layer).get("driver"),
                "encoding": encoding or "from source", "encoding_source": "override" if encoding else "driver"}
    if require_crs or crs or frame.crs is not None:
        frame, detected["crs"], detected["crs_source"] = _with_crs(frame, path, crs)
    logger.info("read %d features from %s (layer %s)", len(frame), path, layer)
    return Source(path=path, layer=layer, frame=frame, detected=detected)


def describe(path: Path, layer: str | None = None) -> tuple[list[str], list[str]]:
    """The layers of a source and the columns of the chosen one, without reading its features."""
    gdal_path = _gdal_path(Path(path))
    names = [str(n) for n, _ in pyogrio.list_layers(gdal_path)]
    chosen = layer if layer in names else (names[0] if len(names) == 1 else None)
    if chosen is None:
        return names, []
    return names, [str(c) for c in pyogrio.read_info(gdal_path, layer=chosen, **_open_options(gdal_path))["fields"]]


def _gdal_path(path: Path) -> str:
    """A zip is read in place through GDAL's /vsizip/, at whatever folder depth the data sits."""
    if path.suffix.lower() != ".zip":
        return str(path)
    try:
        names = zipfile.ZipFile(path).namelist()
    except zipfile.BadZipFile:
        raise InputError(f"{path}: not a valid zip file", "re-download or re-pack the archive") from None
    for ext in _READABLE:
        inner = sorted(n for n in names if n.lower().endswith(ext) and not n.startswith("__MACOSX"))
        if inner:
            return f"/vsizip/{path.resolve()}/{inner[0]}"
    raise InputError(f"{path}: the zip holds no readable vector file",
                     f"it should contain one of {', '.join(_READABLE)}")


def _open_options(gdal_path: str) -> dict:
    # GDAL's GML reader would write a .gfs file beside the source: never write into a city's folder.
    return {"WRITE_GFS": "NO"} if gdal_path.lower().endswith((".gml", ".xml")) else {}


def _pick_layer(gdal_path: str, layer: str | None) -> str:
    try:
        names = [str(n) for n, _ in pyogrio.list_layers(gdal_path)]
    except DataSourceError as exc:
        raise InputError(f"{gdal_path}: cannot be opened ({_first_line(exc)})",
                         "check that the file is a complete vector dataset") from None
    if layer is not None:
        if layer not in names:
            raise InputError(f"layer {layer!r} not found", f"choose one of: {', '.join(names)}")
        return layer
    if len(names) != 1:
        raise InputError(f"the source holds {len(names)} layers", f"pick one with --layer: {', '.join(names)}")
    return names[0]


def _with_crs(frame: gpd.GeoDataFrame, path: Path, override: str | None):
    """Apply --crs over whatever the file says; refuse to guess silently when nothing says."""
    if override:
        try:
            crs = CRS.from_user_input(override)
        except CRSError:
            raise InputError(f"--crs {override}: not a known CRS", "give an EPSG code, e.g. --crs EPSG:2180") from None
        return frame.set_crs(crs, allow_override=True), crs.to_string(), "override"
    if frame.crs is None:
        raise InputError(f"{path}: no CRS (missing .prj?)",
                         "rerun with --crs, e.g. --crs EPSG:2180 for PUWG 1992 or EPSG:2178 for PUWG 2000 zone 7")
    epsg = frame.crs.to_epsg()
    return frame, f"EPSG:{epsg}" if epsg else frame.crs.to_string(), "file"


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
