"""Read and check a raster source: one file, a folder of tiles or a zip, before a single pixel is read.

Every tile is opened with rasterio (headers only). The checks give the same promises as for vectors:
a damaged file, a header that declares an absurd size, a CRS that cannot be found, coordinates outside
Poland, or bands and a data type the theme cannot hold each end the load with one line saying why.
"""

from __future__ import annotations

import logging
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rasterio
from pyproj import CRS
from rasterio.enums import ColorInterp
from rasterio.errors import RasterioError

from sdi.core.config import RasterSchema
from sdi.core.errors import InputError, first_line
from sdi.core.mosaic import Tile
from sdi.loader.detect import check_in_poland, describe_epsg, guess_crs, match_crs
from sdi.loader.safety import check_raster_source

logger = logging.getLogger(__name__)

SUFFIXES = (".tif", ".tiff", ".jp2", ".asc")


@dataclass
class RasterSource:
    """A checked raster source: its tiles, their common CRS, bands and data type, and how each was found."""

    path: Path
    tiles: list[Tile]
    epsg: int
    crs_source: str
    bands: list[int]  # the source bands to keep, 1-based, in the theme's order
    palette: bool  # one band of colour-table indexes, to expand to the theme's RGB bands
    dtype: str
    nodata: float | None
    warnings: list[str] = field(default_factory=list)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        b = np.array([t.bounds for t in self.tiles])
        return float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max())

    @property
    def res(self) -> float:
        """The finest pixel size among the tiles: a mosaic keeps every tile's detail."""
        return min(min(t.res) for t in self.tiles)


def read_raster(
    path: Path,
    schema: RasterSchema,
    *,
    crs: str | None = None,
    max_unzipped_bytes: int = 4 * 1024**3,
    max_mpix: int = 20_000,
) -> RasterSource:
    """Open every tile of `path` and check it against the theme; raises InputError on the first problem."""
    path = Path(path)
    check_raster_source(path, max_unzipped_bytes)
    files = _files(path)
    tiles, crses, kinds = [], set(), set()
    for name in files:
        try:
            with rasterio.open(name) as ds:
                _check_size(name, ds, max_mpix)
                tiles.append(Tile(name, ds.width, ds.height, tuple(ds.bounds), ds.res, ds.nodata))
                crses.add(ds.crs.to_wkt() if ds.crs else None)
                kinds.add((ds.count, ds.dtypes[0], tuple(ds.colorinterp), ds.colorinterp[0] == ColorInterp.palette))
        except RasterioError as exc:
            raise InputError(
                f"{_shown(name)}: cannot be read as a raster ({first_line(exc)})",
                "give a GeoTIFF, JPEG2000 or ASCII grid, or copy the file again",
            ) from None
    if len(crses) > 1:
        raise InputError(
            f"{path}: the tiles are in different coordinate systems",
            "load each coordinate system separately, or reproject the tiles to one",
        )
    if len(kinds) > 1:
        raise InputError(f"{path}: the tiles differ in bands or data type", "give tiles of one kind in one load")
    epsg, crs_source = _crs(path, crses.pop(), crs, tiles)
    minx, miny, maxx, maxy = (np.array([t.bounds for t in tiles])[:, i] for i in range(4))
    xs, ys = np.concatenate([minx, maxx, (minx + maxx) / 2]), np.concatenate([miny, maxy, (miny + maxy) / 2])
    check_in_poland(xs, ys, epsg, crs_source)
    count, dtype, interp, paletted = kinds.pop()
    source = RasterSource(path, tiles, epsg, crs_source, [], paletted, dtype, tiles[0].nodata)
    if crs_source == "coordinates":
        source.warnings.append(
            f"no coordinate system in the file: its coordinates are those of EPSG:{epsg}"
            f" ({describe_epsg(epsg)}); give --crs if that is wrong"
        )
    _match_theme(source, schema, count, interp)
    logger.info("raster %s: %d tile(s), EPSG:%s from %s, %s", path, len(tiles), epsg, crs_source, dtype)
    return source


def _files(path: Path) -> list[str]:
    """The GDAL paths of the rasters in a file, a folder (its tiles, in name order) or a zip."""
    if path.suffix.lower() == ".zip":
        names = [n for n in zipfile.ZipFile(path).namelist() if n.lower().endswith(SUFFIXES) and "__MACOSX" not in n]
        found = [f"/vsizip/{path.resolve()}/{n}" for n in sorted(names)]
    elif path.is_dir():
        found = [str(p) for p in sorted(path.rglob("*")) if p.suffix.lower() in SUFFIXES and p.is_file()]
    else:
        found = [str(path)]
    if not found:
        raise InputError(f"{path}: holds no raster", f"give a file or a folder of {', '.join(SUFFIXES)} files")
    return found


def _check_size(name: str, ds, max_mpix: int) -> None:
    mpix = ds.width * ds.height / 1e6
    if mpix > max_mpix:
        raise InputError(
            f"{_shown(name)}: the header declares {ds.width:,} x {ds.height:,} pixels ({mpix:,.0f}"
            f" megapixels), over the limit of {max_mpix:,}",
            "cut it into tiles, or raise SDI_MAX_RASTER_MPIX if the raster is genuine",
        )


def _crs(path: Path, wkt: str | None, override: str | None, tiles: list[Tile]) -> tuple[int, str]:
    """The source's EPSG code: --crs first, then the file's own CRS, then what its coordinates look like."""
    if override:
        try:
            epsg = CRS.from_user_input(override).to_epsg()
        except Exception:
            raise InputError(f"--crs {override}: not a coordinate system", "give one such as EPSG:2180") from None
        if epsg is None:  # a CRS with no EPSG code (a PROJ string...) used to crash further on
            raise InputError(f"--crs {override}: has no EPSG code", "give one such as EPSG:2180")
        return epsg, "--crs"
    epsg, how = match_crs(CRS.from_wkt(wkt) if wkt else None)
    if epsg:
        return epsg, f"file ({how})"
    b = np.array([t.bounds for t in tiles])
    guess = guess_crs(np.concatenate([b[:, 0], b[:, 2]]), np.concatenate([b[:, 1], b[:, 3]]))
    if guess is None:
        raise InputError(
            f"{path}: has no coordinate system and its coordinates do not tell which",
            "rerun with --crs, e.g. --crs EPSG:2180 for PUWG 1992",
        )
    logger.info("no CRS in %s: coordinates look like EPSG:%s (%s)", path, guess, describe_epsg(guess))
    return guess, "coordinates"


def _match_theme(source: RasterSource, schema: RasterSchema, count: int, interp: tuple) -> None:
    """Pick the source bands for the theme's bands, and check that the data type fits without loss."""
    want = len(schema.bands)
    names = ", ".join(b.name for b in schema.bands)
    if count == want:
        source.bands = list(range(1, want + 1))
    elif count == want + 1 and interp[-1] == ColorInterp.alpha:
        source.bands = list(range(1, want + 1))
        source.warnings.append("the alpha band is left out: transparent pixels become nodata")
    elif count == 1 and source.palette and want == 3:
        source.bands = [1, 1, 1]
        source.warnings.append("the colour table is expanded to red, green and blue")
    else:
        raise InputError(
            f"{source.path}: has {count} band(s); {schema.id} expects {want} ({names})",
            f"give a raster with the bands {names}, or choose the right --theme",
        )
    src, dst = np.dtype(source.dtype), np.dtype(schema.dtype)
    if source.palette:
        return  # the colour table's entries are bytes
    if not (np.can_cast(src, dst, "safe") or (src.kind == "f" and dst.kind == "f")):
        raise InputError(
            f"{source.path}: holds {src.name} values; {schema.id} stores {dst.name}",
            f"convert it first, e.g. gdal_translate -ot {_gdal_type(dst)} -scale, or choose the right --theme",
        )


def _gdal_type(dtype: np.dtype) -> str:
    return {"uint8": "Byte", "uint16": "UInt16", "int16": "Int16", "float32": "Float32"}[dtype.name]


def _shown(name: str) -> str:
    return name.removeprefix("/vsizip/")
