"""Open a source file: find its layer, encoding and CRS, and hand back a frame plus what was detected.

Input is refused before GDAL touches it when it is unsafe or broken (`sdi.safety`). The encoding of a
shapefile comes from --encoding, its .cpg, its DBF code page byte, or its content; the CRS from --crs,
the file (.prj matched by its parameters, GML srsName, GeoJSON), or the coordinates themselves.
Coordinates that do not lie in Poland under the CRS in use are refused with the likely right CRS.
"""

from __future__ import annotations

import logging
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import geopandas as gpd
import numpy as np
import pyogrio
import shapely
from pyogrio.errors import DataLayerError, DataSourceError
from pyproj import CRS
from pyproj.exceptions import CRSError

from sdi import detect
from sdi.errors import InputError
from sdi.safety import check_source

logger = logging.getLogger(__name__)

# Files inside a zip that can be read on their own, in order of preference.
_READABLE = (".shp", ".gpkg", ".geojson", ".json", ".gml", ".xml", ".kml", ".csv")
_CSV_OPTIONS = {"GEOM_POSSIBLE_NAMES": "wkt,geom,geometry,the_geom,wkt_geom",
                "X_POSSIBLE_NAMES": "x,lon,lng,longitude,easting,dlugosc,wsp_x",
                "Y_POSSIBLE_NAMES": "y,lat,latitude,northing,szerokosc,wsp_y",
                "KEEP_GEOM_COLUMNS": "NO", "AUTODETECT_TYPE": "YES"}


@dataclass
class Source:
    """A read source: its features and what was found out about it."""

    path: Path
    layer: str
    frame: gpd.GeoDataFrame
    detected: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def read(path: Path, layer: str | None = None, encoding: str | None = None, crs: str | None = None,
         require_crs: bool = True, max_unzipped_bytes: int = 4 * 1024**3) -> Source:
    """Read one layer of a vector source into a GeoDataFrame in its own CRS."""
    path = Path(path)
    check_source(path, max_unzipped_bytes=max_unzipped_bytes)
    gdal_path = _gdal_path(path)
    layer = _pick_layer(gdal_path, layer)
    codec, codec_source = _encoding(path, gdal_path, encoding)
    try:
        frame = pyogrio.read_dataframe(gdal_path, layer=layer, encoding=codec, fid_as_index=True,
                                       **_open_options(gdal_path))
        driver = pyogrio.read_info(gdal_path, layer=layer, **_open_options(gdal_path)).get("driver")
    except (DataSourceError, DataLayerError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot be read as vector data ({_first_line(exc)})",
                         "give a shapefile, GeoPackage, GeoJSON, GML, KML, CSV, FileGDB or a zip of one") from None
    detected = {"driver": driver, "encoding": codec or "utf-8", "encoding_source": codec_source}
    source = Source(path=path, layer=layer, frame=frame, detected=detected)
    if require_crs or crs or frame.crs is not None:
        _apply_crs(source, crs)
    logger.info("read %d features from %s (layer %s)", len(frame), path, layer)
    return source


def describe(path: Path, layer: str | None = None) -> tuple[list[str], list[str]]:
    """The layers of a source and the columns of the chosen one, without reading its features."""
    gdal_path = _gdal_path(Path(path))
    names = [str(n) for n, _ in pyogrio.list_layers(gdal_path)]
    chosen = layer if layer in names else (names[0] if len(names) == 1 else None)
    if chosen is None:
        return names, []
    return names, [str(c) for c in pyogrio.read_info(gdal_path, layer=chosen, **_open_options(gdal_path))["fields"]]


def _apply_crs(source: Source, override: str | None) -> None:
    """Set the CRS from --crs, the file or the coordinates, and refuse coordinates outside Poland."""
    frame, d = source.frame, source.detected
    if override:
        try:
            crs = CRS.from_user_input(override)
        except CRSError:
            raise InputError(f"--crs {override}: not a known CRS", "give an EPSG code, e.g. --crs EPSG:2180") from None
        epsg, how = crs.to_epsg(), "override"
    elif frame.crs is not None:
        epsg, how = detect.match_crs(frame.crs)
        how = f"{_crs_origin(d['driver'])}" + (" (matched by parameters)" if how == "parameters" else "")
    else:
        x, y = _sample_xy(frame)
        epsg, how = detect.guess_crs(x, y), "detected from coordinates"
        if epsg is None:
            raise InputError(f"{source.path}: no CRS (missing .prj?) and the coordinates match no Polish system",
                             "rerun with --crs, e.g. --crs EPSG:2180 for PUWG 1992 or EPSG:2178 for PUWG 2000 zone 7")
        source.warnings.append(f"no CRS in the file: EPSG:{epsg} ({detect.describe_epsg(epsg)}) detected from the"
                               " coordinates")
    if epsg is None:
        d["crs"], d["crs_source"] = frame.crs.to_string(), how
        return
    source.frame = frame = frame.set_crs(epsg, allow_override=True)
    d["crs"], d["crs_source"] = f"EPSG:{epsg}", how
    x, y = _sample_xy(frame)
    try:
        detect.check_in_poland(x, y, epsg, how)
    except InputError:
        if d["driver"] != "GML" or not detect.inside_poland_mask(y, x, epsg).mean() > 0.5:
            raise
        # A GML whose srsName promised one axis order and whose coordinates follow the other.
        swapped = shapely.transform(frame.geometry.values, lambda c: c[:, ::-1])
        source.frame = frame.set_geometry(gpd.GeoSeries(swapped, index=frame.index, crs=frame.crs))
        d["crs_source"] = f"{how}, axes swapped"
        source.warnings.append(f"the GML coordinates were northing-first for EPSG:{epsg}: axes swapped")


def _crs_origin(driver: str | None) -> str:
    return {"ESRI Shapefile": "prj", "GML": "gml srsName", "GeoJSON": "geojson", "GPKG": "gpkg",
            "OpenFileGDB": "filegdb", "KML": "kml", "LIBKML": "kml", "CSV": "csv"}.get(driver or "", "file")


def _sample_xy(frame: gpd.GeoDataFrame, n: int = 20_000) -> tuple[np.ndarray, np.ndarray]:
    geoms = frame.geometry.values
    geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    if len(geoms) > n:
        geoms = geoms[np.linspace(0, len(geoms) - 1, n).astype(int)]
    points = shapely.point_on_surface(geoms) if len(geoms) else geoms
    return shapely.get_x(points), shapely.get_y(points)


def _encoding(path: Path, gdal_path: str, override: str | None) -> tuple[str | None, str]:
    """(codec, where it came from) for a shapefile; other formats declare their own (UTF-8 mostly)."""
    if not gdal_path.lower().endswith(".shp"):
        if override:
            return detect.detect_encoding(path, override)
        return None, "format"
    if not gdal_path.startswith("/vsizip/"):
        return detect.detect_encoding(Path(gdal_path), override)
    # A zipped shapefile: give the detector the .cpg and the start of the .dbf, never the whole archive.
    inner = PurePosixPath(gdal_path.split(".zip/", 1)[1])
    with zipfile.ZipFile(path) as z, tempfile.TemporaryDirectory() as tmp:
        names = {n.lower(): n for n in z.namelist()}
        for ext, limit in ((".cpg", 1024), (".dbf", 4 << 20), (".shp", 100)):
            member = names.get(str(inner.with_suffix(ext)).lower())
            if member:
                with z.open(member) as src:
                    (Path(tmp) / f"x{ext}").write_bytes(src.read(limit))
        return detect.detect_encoding(Path(tmp) / "x.shp", override)


def _gdal_path(path: Path) -> str:
    """A zip is read in place through GDAL's /vsizip/, at whatever folder depth the data sits."""
    if path.suffix.lower() != ".zip":
        return str(path)
    names = zipfile.ZipFile(path).namelist()
    for ext in _READABLE:
        inner = sorted(n for n in names if n.lower().endswith(ext) and not n.startswith("__MACOSX"))
        if inner:
            return f"/vsizip/{path.resolve()}/{inner[0]}"
    gdb = sorted({n.split(".gdb/")[0] + ".gdb" for n in names if ".gdb/" in n.lower()})
    if gdb:
        return f"/vsizip/{path.resolve()}/{gdb[0]}"
    raise InputError(f"{path}: the zip holds no readable vector file",
                     f"it should contain one of {', '.join(_READABLE)} or a .gdb folder")


def _open_options(gdal_path: str) -> dict:
    lower = gdal_path.lower()
    if lower.endswith((".gml", ".xml")):
        # GDAL's GML reader would write a .gfs file beside the source: never write into a city's folder.
        return {"WRITE_GFS": "NO"}
    if lower.endswith(".csv"):
        return dict(_CSV_OPTIONS)
    return {}


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


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
