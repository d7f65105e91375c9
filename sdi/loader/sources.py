"""Where the layers of a source are: the files inside a zip, CSV whatever its extension, and every layer's name.

A zip may hold one file or a package of many (a BDOT10k county is 80 GML files, one per layer): every
layer of every file is listed, and `--layer` picks one by its name or its file's name. A CSV may be
named .txt (GTFS's stops.txt) or .tsv; its delimiter is sniffed from its head.
"""

from __future__ import annotations

import csv
import logging
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pyogrio
from pyogrio.errors import DataLayerError, DataSourceError

from sdi.core.errors import InputError, first_line

logger = logging.getLogger(__name__)

# Files inside a zip that can be read on their own, in order of preference.
READABLE = (".shp", ".gpkg", ".geojson", ".json", ".gml", ".xml", ".kml", ".csv")
_TEXT = (".txt", ".tsv", ".tab")  # delimited text under another name
_SEPARATORS = {",": "COMMA", ";": "SEMICOLON", "\t": "TAB", "|": "PIPE"}
_CSV_OPTIONS = {
    "GEOM_POSSIBLE_NAMES": "wkt,geom,geometry,the_geom,wkt_geom",
    "X_POSSIBLE_NAMES": "x,lon,lng,longitude,easting,dlugosc,dlugosc_geogr,wsp_x,stop_lon,xcoord",
    "Y_POSSIBLE_NAMES": "y,lat,latitude,northing,szerokosc,szerokosc_geogr,wsp_y,stop_lat,ycoord",
    "KEEP_GEOM_COLUMNS": "NO",
    "AUTODETECT_TYPE": "YES",
    "QUOTED_FIELDS_AS_STRING": "YES",
}  # GTFS quotes codes such as "0012": keep their zeros


@dataclass(frozen=True)
class Layer:
    """One layer of a source: the GDAL path of its file, its name and geometry type."""

    gdal_path: str
    name: str
    geometry_type: str | None


def files_of(path: Path) -> list[str]:
    """The GDAL paths of the readable files of a source: itself, or each one inside a zip (read in place)."""
    path = Path(path)
    if path.suffix.lower() != ".zip":
        return [_csv_prefix(str(path), _head(path)) if path.suffix.lower() in _TEXT else str(path)]
    with zipfile.ZipFile(path) as archive:
        names = [n for n in archive.namelist() if not n.startswith("__MACOSX") and not n.endswith("/")]
        found = [f"/vsizip/{path.resolve()}/{n}" for n in sorted(names) if n.lower().endswith(READABLE)]
        for n in sorted(names):
            if n.lower().endswith(_TEXT) and _is_table(archive.open(n).read(65536)):
                found.append(_csv_prefix(f"/vsizip/{path.resolve()}/{n}", archive.open(n).read(65536)))
    gdb = sorted({n.split(".gdb/")[0] + ".gdb" for n in names if ".gdb/" in n.lower()})
    found += [f"/vsizip/{path.resolve()}/{g}" for g in gdb]
    if not found:
        raise InputError(
            f"{path}: the zip holds no readable vector file",
            f"it should contain one of {', '.join(READABLE)} or a .gdb folder",
        )
    return found


def vsi_path(path: Path) -> str:
    """The first readable file of a source (for callers that need only one)."""
    return files_of(path)[0]


def layers(path: Path, wanted: str | None = None) -> list[Layer]:
    """Every layer of every file of the source; with `wanted`, a file named after it is opened alone."""
    files = files_of(path)
    if wanted and len(files) > 1:
        named = [f for f in files if _stem(f) == wanted or _stem(f).endswith(f"_{wanted}")]
        files = named or files
    found = []
    for gdal_path in files:
        try:
            found += [Layer(gdal_path, n, g) for n, g in layers_of(gdal_path)]
        except DataSourceError as exc:
            if len(files) == 1:
                raise InputError(
                    f"{gdal_path}: cannot be opened ({first_line(exc)})",
                    "check that the file is a complete vector dataset",
                ) from None
            logger.warning("%s: cannot be opened (%s); skipped", gdal_path, first_line(exc))
    return found


def pick_layer(path: Path, wanted: str | None) -> Layer:
    """The one layer to read: `wanted` by its name or its file's name, else the only one there is."""
    found = layers(path, wanted)
    names = [lay.name for lay in found]
    if wanted is not None:
        hit = [lay for lay in found if lay.name == wanted] or [
            lay for lay in found if _stem(lay.gdal_path) == wanted or _stem(lay.gdal_path).endswith(f"_{wanted}")
        ]
        if len(hit) != 1:
            raise InputError(f"layer {wanted!r} not found", f"choose one of: {', '.join(names)}")
        return hit[0]
    if len(found) != 1:
        raise InputError(f"the source holds {len(found)} layers", f"pick one with --layer: {', '.join(names)}")
    return found[0]


def layers_of(gdal_path: str) -> list[tuple[str, str | None]]:
    """(name, geometry type) of every layer, without letting GDAL's GML reader write a .gfs beside the file."""
    options = open_options(gdal_path)
    if "WRITE_GFS" not in options and not gdal_path.startswith("CSV:"):
        return [(str(n), g) for n, g in pyogrio.list_layers(gdal_path)]
    found: list[tuple[str, str | None]] = []
    while True:  # list_layers takes no open options, so walk the layers by index
        try:
            info = pyogrio.read_info(gdal_path, layer=len(found), **options)
        except DataLayerError:
            return found
        found.append((str(info["layer_name"]), info["geometry_type"]))


def open_options(gdal_path: str) -> dict:
    """GDAL open options by file kind; a CSV's separator travels in its path's `CSV:` prefix form."""
    lower = gdal_path.lower()
    if lower.endswith((".gml", ".xml")):
        # GDAL's GML reader would write a .gfs file beside the source: never write into a city's folder.
        return {"WRITE_GFS": "NO"}
    if lower.endswith(".csv") or lower.startswith("csv:"):
        options = dict(_CSV_OPTIONS)
        sep = _SEPARATORS.get(_sniff(_head_of(gdal_path)) or "")
        if sep:
            options["SEPARATOR"] = sep
        return options
    return {}


def is_gtfs_stops(gdal_path: str) -> bool:
    """A GTFS stops.txt (under any name): a delimited file whose header names stop_id, stop_lat and stop_lon."""
    lower = gdal_path.lower()
    if not (lower.startswith("csv:") or lower.endswith(".csv")):
        return False
    head = _head_of(gdal_path).decode("utf-8-sig", errors="replace").splitlines()[:1]
    columns = {c.strip().strip('"').lower() for c in next(csv.reader(head), [])} if head else set()
    return {"stop_id", "stop_lat", "stop_lon"} <= columns


def _csv_prefix(gdal_path: str, head: bytes) -> str:
    return f"CSV:{gdal_path}" if _is_table(head) else gdal_path


def _is_table(head: bytes) -> bool:
    """Delimited text with a header row: a sniffed separator and at least two columns."""
    return _sniff(head) is not None


def _sniff(head: bytes) -> str | None:
    text = head.decode("utf-8-sig", errors="replace")
    lines = text.splitlines()[:20]
    if len(lines) < 2:
        return None
    try:
        dialect = csv.Sniffer().sniff("\n".join(lines), delimiters="".join(_SEPARATORS))
    except csv.Error:
        return None
    return dialect.delimiter if len(lines[0].split(dialect.delimiter)) >= 2 else None


def _head(path: Path) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(65536)
    except OSError:
        return b""


def _head_of(gdal_path: str) -> bytes:
    """The first bytes of a file, plain or inside a zip, for sniffing."""
    plain = gdal_path.removeprefix("CSV:")
    if plain.startswith("/vsizip/"):
        archive, _, member = plain.removeprefix("/vsizip/").partition(".zip/")
        with zipfile.ZipFile(archive + ".zip") as z:
            return z.open(member).read(65536)
    return _head(Path(plain))


def _stem(gdal_path: str) -> str:
    return PurePosixPath(gdal_path.removeprefix("CSV:")).stem
