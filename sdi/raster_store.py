"""Store a checked raster: mosaic its tiles, write one Cloud-Optimized GeoTIFF in EPSG:2180, record it.

The COG is written beside the others under SDI_RASTER_DIR, checked with rio-cogeo's validator, and
only then registered in the catalogue, in one transaction with its load row and the switch of the
city's current version. A failure anywhere deletes the new file and leaves the catalogue as it was; a
killed loader leaves at most a file that nothing points to. Files are never overwritten.
"""

from __future__ import annotations

import logging
import math
import secrets
from datetime import datetime, timezone
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
import psycopg
import rasterio
import rasterio.shutil
from pyproj import CRS
from rasterio._err import CPLE_BaseError
from rasterio.errors import RasterioError
from rasterio.warp import transform_bounds
from rio_cogeo.cogeo import cog_validate

from sdi import catalogue
from sdi.catalogue import Provenance
from sdi.config import RasterSchema
from sdi.errors import LoadError, first_line
from sdi.raster import RasterSource, Tile
from sdi.settings import STORAGE_SRID

logger = logging.getLogger(__name__)

_GDAL_TYPES = {"uint8": "Byte", "uint16": "UInt16", "int16": "Int16", "float32": "Float32"}
_RGB = ("Red", "Green", "Blue")


def store_raster(conn: psycopg.Connection, source: RasterSource, schema: RasterSchema, *, city: str, folder: Path,
                 provenance: Provenance) -> dict:
    """Write the COG and make it the city's current version of the theme; returns what was stored."""
    catalogue.own_city(conn, city)
    # The catalogue keeps this name relative to SDI_RASTER_DIR, and its function refuses any other shape:
    # the server derives the file from its own folder and this name, never from a path a caller wrote.
    name = f"{schema.id}/{city}/{datetime.now(timezone.utc):%Y%m%dT%H%M%S}-{secrets.token_hex(4)}.tif"
    out = folder / name
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        _write_cog(source, schema, out)
        stored = describe(out)
        with catalogue.load_errors(), conn.transaction():
            catalogue.lock_layer(conn, city, schema.id)
            load_id = catalogue.record_load(conn, city=city, theme=schema.id, provenance=provenance)
            conn.execute("SELECT sdi.add_raster(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                         [load_id, name, stored["width"], stored["height"], stored["bands"], stored["dtype"],
                          stored["nodata"], stored["resolution"], stored["bytes"], *stored["range"], *stored["bounds"]])
            catalogue.finish_load(conn, load_id, len(source.tiles), 0)
            catalogue.set_current(conn, city=city, theme=schema.id, load_id=load_id)
    except BaseException:
        out.unlink(missing_ok=True)  # nothing points at it: the catalogue is as it was
        raise
    logger.info("load %d: %s for city %s -> %s", load_id, schema.id, city, out)
    return {"load_id": load_id, "path": str(out), "name": name, **stored}


def describe(path: Path) -> dict:
    """What a stored COG holds, as the catalogue and the report record it."""
    with rasterio.open(path) as ds:
        # the range of band 1 from at most 1024 pixels across, which the overviews give cheaply
        scale = max(1.0, max(ds.width, ds.height) / 1024)
        sample = ds.read(1, out_shape=(max(1, int(ds.height / scale)), max(1, int(ds.width / scale))), masked=True)
        values = sample.compressed()
        low, high = (float(v) for v in np.percentile(values, [2, 98])) if values.size else (None, None)
        return {"width": ds.width, "height": ds.height, "bands": ds.count, "dtype": ds.dtypes[0],
                "nodata": ds.nodata, "resolution": round(ds.res[0], 6), "bytes": path.stat().st_size,
                "bounds": [round(v, 3) for v in ds.bounds], "overviews": ds.overviews(1), "range": [low, high]}


def mosaic_vrt(tiles: list[Tile], epsg: int, schema: RasterSchema, *, bands: list[int] | None = None,
               palette: bool = False, src_nodata: float | None = None) -> str:
    """A GDAL VRT that lays the tiles side by side at the finest pixel size, in the theme's data type.

    Tiles may come from different cities or flights: where they overlap, the later one in the list wins.
    """
    res = min(min(t.res) for t in tiles)
    minx, maxy = min(t.bounds[0] for t in tiles), max(t.bounds[3] for t in tiles)
    width = round((max(t.bounds[2] for t in tiles) - minx) / res)
    height = round((maxy - min(t.bounds[1] for t in tiles)) / res)
    crs = CRS.from_epsg(epsg)
    # Pixels run east, then south, whatever the CRS's own axis order: PUWG 1992 and 2000 list northing first.
    mapping = "2,1" if crs.axis_info[0].direction in ("north", "south") else "1,2"
    lines = [f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}">',
             f'  <SRS dataAxisToSRSAxisMapping="{mapping}">{escape(crs.to_wkt())}</SRS>',
             f"  <GeoTransform>{minx!r}, {res!r}, 0, {maxy!r}, 0, {-res!r}</GeoTransform>"]
    for i, source_band in enumerate(bands or range(1, len(schema.bands) + 1), start=1):
        lines.append(f'  <VRTRasterBand dataType="{_GDAL_TYPES[schema.dtype]}" band="{i}">')
        lines.append(f"    <Description>{escape(schema.bands[i - 1].name)}</Description>")
        if schema.nodata is not None:
            lines.append(f"    <NoDataValue>{schema.nodata!r}</NoDataValue>")
        if schema.unit:
            lines.append(f"    <UnitType>{escape(schema.unit)}</UnitType>")
        if len(schema.bands) == 3:
            lines.append(f"    <ColorInterp>{_RGB[i - 1]}</ColorInterp>")
        for t in tiles:
            x, y = (t.bounds[0] - minx) / res, (maxy - t.bounds[3]) / res
            nodata = src_nodata if src_nodata is not None else t.nodata
            lines += ["    <ComplexSource>",
                      f'      <SourceFilename relativeToVRT="0">{escape(t.path)}</SourceFilename>',
                      f"      <SourceBand>{source_band}</SourceBand>",
                      f'      <SrcRect xOff="0" yOff="0" xSize="{t.width}" ySize="{t.height}"/>',
                      f'      <DstRect xOff="{x!r}" yOff="{y!r}" xSize="{t.width * t.res[0] / res!r}"'
                      f' ySize="{t.height * t.res[1] / res!r}"/>']
            if nodata is not None:
                lines.append(f"      <NODATA>{nodata!r}</NODATA>")
            if palette:
                lines.append(f"      <ColorTableComponent>{i}</ColorTableComponent>")
            lines.append("    </ComplexSource>")
        lines.append("  </VRTRasterBand>")
    lines.append("</VRTDataset>")
    return "\n".join(lines) + "\n"


def _write_cog(source: RasterSource, schema: RasterSchema, out: Path) -> None:
    """Mosaic, convert, reproject where needed (nearest for classes), tile, add overviews, compress, validate."""
    vrt = out.with_suffix(".vrt")
    # each tile's own nodata value: flights and exports of one city do not always agree on it
    vrt.write_text(mosaic_vrt(source.tiles, source.epsg, schema, bands=source.bands, palette=source.palette),
                   encoding="utf-8")
    options = {"BLOCKSIZE": 512, "COMPRESS": "DEFLATE", "PREDICTOR": "YES", "BIGTIFF": "IF_SAFER",
               "NUM_THREADS": "ALL_CPUS", "OVERVIEWS": "AUTO",
               # averaging is right for heights and pictures; a class averaged with another is no class
               "OVERVIEW_RESAMPLING": "NEAREST" if schema.resampling == "nearest" else "AVERAGE"}
    if source.epsg != STORAGE_SRID:
        # The source's pixel size, on a grid of whole pixels from 0,0: neighbouring cities' rasters line up.
        res = float(f"{source.res:.3g}")
        west, south, east, north = transform_bounds(f"EPSG:{source.epsg}", f"EPSG:{STORAGE_SRID}", *source.bounds)
        extent = (math.floor(west / res) * res, math.floor(south / res) * res, math.ceil(east / res) * res,
                  math.ceil(north / res) * res)
        options.update(TARGET_SRS=f"EPSG:{STORAGE_SRID}", WARP_RESAMPLING=schema.resampling.upper(), RES=res,
                       EXTENT=",".join(f"{v:.6f}" for v in extent))
    try:
        rasterio.shutil.copy(str(vrt), str(out), driver="COG", **options)
    except (RasterioError, CPLE_BaseError) as exc:
        raise LoadError(f"{source.path}: the pixels cannot be read or written ({first_line(exc)})",
                        "nothing was stored; if the file is damaged, copy it again; check the free disk space"
                        ) from None
    finally:
        vrt.unlink(missing_ok=True)
    valid, errors, _ = cog_validate(str(out), quiet=True)
    if not valid:
        raise LoadError(f"the COG written for {source.path} does not validate ({'; '.join(errors)})",
                        "nothing was stored; report it with the source file")
