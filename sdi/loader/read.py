"""Open a source file: find its layer, encoding and CRS, and hand back a frame plus what was detected.

Input is refused before GDAL touches it when it is unsafe or broken (`sdi.loader.safety`). The encoding of a
shapefile comes from --encoding, its .cpg, its DBF code page byte, or its content; the CRS from --crs,
the file (.prj matched by its parameters, GML srsName, GeoJSON), or the coordinates themselves.
Coordinates that do not lie in Poland under the CRS in use are refused with the likely right CRS.
"""

from __future__ import annotations

import itertools
import logging
import tempfile
import threading
import warnings
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path, PurePosixPath

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyogrio.errors import DataLayerError, DataSourceError
from pyproj import CRS
from pyproj.exceptions import CRSError

from sdi.core.errors import InputError, first_line
from sdi.loader import detect, encodings, sources
from sdi.loader.ahead import ahead
from sdi.loader.safety import check_source

logger = logging.getLogger(__name__)

# Kept importable from here: other modules find layers through sdi.loader.read.
vsi_path, layers_of, open_options = sources.vsi_path, sources.layers_of, sources.open_options


@dataclass
class Source:
    """An opened source: what was found out about it, and its features as a stream of batches."""

    path: Path
    layer: str
    columns: list[str]
    count: int  # as the driver declares it; -1 when it cannot tell without reading everything
    detected: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    first: gpd.GeoDataFrame | None = None
    rest: Iterator[gpd.GeoDataFrame] = field(default_factory=lambda: iter(()))
    fix: Callable[[gpd.GeoDataFrame], gpd.GeoDataFrame] = lambda frame: frame

    go: threading.Event = field(default_factory=threading.Event)

    def batches(self) -> Iterator[gpd.GeoDataFrame]:
        """Every feature, batch by batch, with the CRS (and any axis swap) applied; can be walked once."""
        self.go.set()  # the stream may read ahead from now on (sdi.loader.ahead)
        for batch in itertools.chain([self.first] if self.first is not None else [], self.rest):
            yield self.fix(batch)

    @cached_property
    def frame(self) -> gpd.GeoDataFrame:
        """All features in one frame: for inspect, suggest and small files; loads stream batches instead."""
        parts = list(self.batches())
        return pd.concat(parts) if len(parts) > 1 else parts[0]


def read(
    path: Path,
    layer: str | None = None,
    encoding: str | None = None,
    crs: str | None = None,
    require_crs: bool = True,
    max_unzipped_bytes: int = 4 * 1024**3,
    batch_size: int = 100_000,
) -> Source:
    """Open one layer of a vector source as a stream of GeoDataFrames in their own CRS."""
    path = Path(path)
    check_source(path, max_unzipped_bytes=max_unzipped_bytes)
    chosen = sources.pick_layer(path, layer)
    gdal_path, layer = chosen.gdal_path, chosen.name
    codec, codec_source = _encoding(path, gdal_path, encoding)
    # A column the file's encoding cannot decode is read byte for byte, then decoded with its own.
    mixed = encodings.mismatched_columns(gdal_path, codec) if codec and gdal_path.lower().endswith(".shp") else {}
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")  # GDAL's notes (duplicate field names...) belong in the report
            info = pyogrio.read_info(gdal_path, layer=layer, encoding=codec, **open_options(gdal_path))
            go = threading.Event()
            stream = _stream(gdal_path, layer, encodings.PASSTHROUGH if mixed else codec, batch_size, go)
            if mixed and codec:  # a shapefile's codec is always known: `codec` only tells the type checker
                stream = (encodings.redecode(batch, codec, mixed) for batch in stream)
            first = next(stream, None)
    except (DataSourceError, DataLayerError, UnicodeDecodeError, RuntimeError) as exc:
        raise InputError(
            f"{path}: cannot be read as vector data ({first_line(exc)})",
            "give a shapefile, GeoPackage, GeoJSON, GML, KML, CSV, FileGDB or a zip of one",
        ) from None
    if first is None:
        first = gpd.GeoDataFrame({c: [] for c in info["fields"]}, geometry=[], crs=info["crs"])
    detected = {"driver": info["driver"], "encoding": codec or "utf-8", "encoding_source": codec_source}
    source = Source(
        path=path,
        layer=layer,
        columns=[str(c) for c in info["fields"]],
        count=int(info["features"]),
        detected=detected,
        first=first,
        rest=stream,
        go=go,
    )
    for name, own in mixed.items():
        detected.setdefault("column_encodings", {})[name] = own.codec
        source.warnings.append(
            f"column {name}: {own.invalid} value(s) are not valid {codec}; the column was read"
            f" as {own.codec} (e.g. {own.sample!r})"
        )
    source.warnings += list(dict.fromkeys(f"GDAL: {w.message}" for w in caught))
    source.warnings += encodings.lost_letters(first)
    gtfs = sources.is_gtfs_stops(gdal_path)
    if gtfs:
        # GTFS coordinates are WGS 84 lon/lat by its specification; a --crs still wins.
        source.detected["gtfs"] = "stops"
        source.warnings.append(
            "GTFS stops.txt: coordinates taken as EPSG:4326 (WGS 84), as GTFS defines them;"
            " theme public_transport_stops"
        )
    if require_crs or crs or gtfs or first.crs is not None:
        _apply_crs(source, crs or ("EPSG:4326" if gtfs else None))
        if gtfs and not crs:
            source.detected["crs_source"] = "gtfs"
    logger.info("opened %s (layer %s, %d features)", path, layer, source.count)
    return source


def _stream(
    gdal_path: str, layer: str, codec: str | None, batch_size: int, go: threading.Event | None = None
) -> Iterator[gpd.GeoDataFrame]:
    """Batches of features through GDAL's Arrow stream: memory stays bounded whatever the file's size.

    The first batch is read here; the others are read ahead in a thread once `go` is set (see sdi.loader.ahead).
    """
    options = open_options(gdal_path)
    if codec and gdal_path.lower().endswith(".shp"):
        # GDAL's own recoding: pyogrio's `encoding` is not applied to the Arrow stream of a shapefile.
        options, codec = {**options, "ENCODING": codec.upper()}, None
    with pyogrio.open_arrow(
        gdal_path, layer=layer, encoding=codec, batch_size=batch_size, return_fids=True, use_pyarrow=True, **options
    ) as (meta, reader):
        geom_col = meta.get("geometry_name") or "wkb_geometry"
        fid_col = meta.get("fid_column") or "OGC_FID"
        batches = iter(reader)
        first = next(batches, None)
        if first is None:
            return
        yield _to_frame(first, meta, geom_col, fid_col, gdal_path, layer)
        yield from ahead((_to_frame(b, meta, geom_col, fid_col, gdal_path, layer) for b in batches), go)


def _to_frame(batch, meta: dict, geom_col: str, fid_col: str, gdal_path: str, layer: str) -> gpd.GeoDataFrame:
    """One Arrow batch as a GeoDataFrame indexed by the source's feature ids."""
    frame = batch.to_pandas()
    wkb = frame.pop(geom_col).to_numpy() if geom_col in frame else np.full(len(frame), None)
    index = frame.pop(fid_col) if fid_col in frame else None
    try:
        geoms = shapely.from_wkb(wkb, on_invalid="ignore")
    except NotImplementedError:  # a curve somewhere in the batch: GEOS refuses the whole array
        geoms = np.array([_from_wkb_or_none(w) for w in wkb], dtype=object)
    curved = np.flatnonzero(pd.isna(geoms) & ~pd.isna(wkb))
    if len(curved) and index is not None:
        # GEOS has no curves, and GDAL's Arrow stream does not linearise them; its row-by-row
        # reader does, so the few curved features are read again by their ids.
        linear = pyogrio.read_dataframe(
            gdal_path, layer=layer, fids=index.to_numpy()[curved], columns=[], **open_options(gdal_path)
        )
        geoms[curved] = linear.geometry.values
    out = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, index=frame.index), crs=meta.get("crs"))
    out.attrs["curves_linearised"] = int(len(curved)) if index is not None else 0
    if index is not None:
        out.index = pd.Index(index.to_numpy(), name=None)
    return out


def _from_wkb_or_none(wkb):
    try:
        return shapely.from_wkb(wkb)
    except (NotImplementedError, shapely.errors.GEOSException):
        return None


def describe(path: Path, layer: str | None = None) -> tuple[list[str], list[str]]:
    """The layers of a source and the columns of the chosen one, without reading its features."""
    found = sources.layers(Path(path), layer)
    chosen = [lay for lay in found if lay.name == layer] or (found if len(found) == 1 else [])
    if not chosen:
        return [lay.name for lay in found], []
    gdal_path = chosen[0].gdal_path
    info = pyogrio.read_info(gdal_path, layer=chosen[0].name, **sources.open_options(gdal_path))
    return [lay.name for lay in found], [str(c) for c in info["fields"]]


def _apply_crs(source: Source, override: str | None) -> None:
    """Set the CRS from --crs, the file or the coordinates, and refuse coordinates outside Poland.

    Detection looks at the first batch; the CRS (and an axis swap, if any) is then applied to every batch.
    """
    frame: gpd.GeoDataFrame = source.first  # read() always opens the first batch (empty for an empty layer)
    d = source.detected
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
            _no_crs(source.path, x, y)
        source.warnings.append(
            f"no CRS in the file: EPSG:{epsg} ({detect.describe_epsg(epsg)}) detected from the coordinates"
        )
    if epsg is None:
        d["crs"], d["crs_source"] = frame.crs.to_string(), how
        return
    d["crs"], d["crs_source"] = f"EPSG:{epsg}", how
    x, y = _sample_xy(frame)
    swap = False
    try:
        detect.check_in_poland(x, y, epsg, how)
    except InputError:
        if d["driver"] != "GML" or not detect.inside_poland_mask(y, x, epsg).mean() > 0.5:
            raise
        # A GML whose srsName promised one axis order and whose coordinates follow the other.
        swap = True
        d["crs_source"] = f"{how}, axes swapped"
        source.warnings.append(f"the GML coordinates were northing-first for EPSG:{epsg}: axes swapped")
    source.fix = lambda batch: _set_crs(batch, epsg, swap)


def _no_crs(path: Path, x: np.ndarray, y: np.ndarray) -> None:
    """Refuse a source without a CRS, advising lon/lat where the numbers are plainly degrees."""
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.any() and (np.abs(x[ok]) <= 180).all() and (np.abs(y[ok]) <= 90).all():
        swapped = detect.inside_poland_mask(y[ok], x[ok], 4326).mean() > 0.5
        raise InputError(
            f"{path}: no CRS, and the coordinates are degrees (lon/lat) that lie outside Poland"
            + ("; they look like latitude/longitude swapped" if swapped else ""),
            "swap the longitude and latitude columns"
            if swapped
            else "check the coordinates; if they are right, rerun with --crs EPSG:4326",
        )
    raise InputError(
        f"{path}: no CRS (missing .prj?) and the coordinates match no Polish system",
        "rerun with --crs, e.g. --crs EPSG:2180 for PUWG 1992 or EPSG:2178 for PUWG 2000 zone 7",
    )


def _set_crs(frame: gpd.GeoDataFrame, epsg: int, swap: bool) -> gpd.GeoDataFrame:
    if swap:
        swapped = shapely.transform(frame.geometry.values, lambda c: c[:, ::-1])
        frame = frame.set_geometry(gpd.GeoSeries(swapped, index=frame.index), crs=None)
    return frame.set_crs(epsg, allow_override=True)


def _crs_origin(driver: str | None) -> str:
    return {
        "ESRI Shapefile": "prj",
        "GML": "gml srsName",
        "GeoJSON": "geojson",
        "GPKG": "gpkg",
        "OpenFileGDB": "filegdb",
        "KML": "kml",
        "LIBKML": "kml",
        "CSV": "csv",
    }.get(driver or "", "file")


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
