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
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import psycopg
import rasterio
import rasterio.shutil
from rasterio._err import CPLE_BaseError
from rasterio.errors import RasterioError
from rasterio.warp import transform_bounds
from rio_cogeo.cogeo import cog_validate

from sdi.core import catalogue
from sdi.core.catalogue import Provenance
from sdi.core.config import RasterSchema
from sdi.core.errors import LoadError, first_line
from sdi.core.mosaic import mosaic_vrt
from sdi.core.settings import STORAGE_SRID
from sdi.loader.raster import RasterSource

logger = logging.getLogger(__name__)

_GDAL_TYPES = {"uint8": "Byte", "uint16": "UInt16", "int16": "Int16", "float32": "Float32"}
_RGB = ("Red", "Green", "Blue")


def store_raster(
    conn: psycopg.Connection,
    source: RasterSource,
    schema: RasterSchema,
    *,
    city: str,
    folder: Path,
    provenance: Provenance,
) -> dict:
    """Write the COG and make it the city's current version of the theme; returns what was stored."""
    catalogue.own_city(conn, city)
    # The catalogue keeps this name relative to SDI_RASTER_DIR, and its function refuses any other shape:
    # the server derives the file from its own folder and this name, never from a path a caller wrote.
    name = f"{schema.id}/{city}/{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(4)}.tif"
    out = folder / name
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        _write_cog(source, schema, out)
        stored = describe(out)
        with catalogue.load_errors(), conn.transaction():
            catalogue.lock_layer(conn, city, schema.id)
            load_id = catalogue.record_load(conn, city=city, theme=schema.id, provenance=provenance)
            conn.execute(
                "SELECT sdi.add_raster(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [
                    load_id,
                    name,
                    stored["width"],
                    stored["height"],
                    stored["bands"],
                    stored["dtype"],
                    stored["nodata"],
                    stored["resolution"],
                    stored["bytes"],
                    *stored["range"],
                    *stored["bounds"],
                ],
            )
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
        return {
            "width": ds.width,
            "height": ds.height,
            "bands": ds.count,
            "dtype": ds.dtypes[0],
            "nodata": ds.nodata,
            "resolution": round(ds.res[0], 6),
            "bytes": path.stat().st_size,
            "bounds": [round(v, 3) for v in ds.bounds],
            "overviews": ds.overviews(1),
            "range": [low, high],
        }


def _write_cog(source: RasterSource, schema: RasterSchema, out: Path) -> None:
    """Mosaic, convert, reproject where needed (nearest for classes), tile, add overviews, compress, validate."""
    vrt = out.with_suffix(".vrt")
    # each tile's own nodata value: flights and exports of one city do not always agree on it
    vrt.write_text(
        mosaic_vrt(source.tiles, source.epsg, schema, bands=source.bands, palette=source.palette), encoding="utf-8"
    )
    options = {
        "BLOCKSIZE": 512,
        "COMPRESS": "DEFLATE",
        "PREDICTOR": "YES",
        "BIGTIFF": "IF_SAFER",
        "NUM_THREADS": "ALL_CPUS",
        "OVERVIEWS": "AUTO",
        # averaging is right for heights and pictures; a class averaged with another is no class
        "OVERVIEW_RESAMPLING": "NEAREST" if schema.resampling == "nearest" else "AVERAGE",
    }
    if source.epsg != STORAGE_SRID:
        # The source's pixel size, on a grid of whole pixels from 0,0: neighbouring cities' rasters line up.
        res = float(f"{source.res:.3g}")
        west, south, east, north = transform_bounds(f"EPSG:{source.epsg}", f"EPSG:{STORAGE_SRID}", *source.bounds)
        extent = (
            math.floor(west / res) * res,
            math.floor(south / res) * res,
            math.ceil(east / res) * res,
            math.ceil(north / res) * res,
        )
        options.update(
            TARGET_SRS=f"EPSG:{STORAGE_SRID}",
            WARP_RESAMPLING=schema.resampling.upper(),
            RES=res,
            EXTENT=",".join(f"{v:.6f}" for v in extent),
        )
    try:
        rasterio.shutil.copy(str(vrt), str(out), driver="COG", **options)
    except (RasterioError, CPLE_BaseError) as exc:
        raise LoadError(
            f"{source.path}: the pixels cannot be read or written ({first_line(exc)})",
            "nothing was stored; if the file is damaged, copy it again; check the free disk space",
        ) from None
    finally:
        vrt.unlink(missing_ok=True)
    valid, errors, _ = cog_validate(str(out), quiet=True)
    if not valid:
        raise LoadError(
            f"the COG written for {source.path} does not validate ({'; '.join(errors)})",
            "nothing was stored; report it with the source file",
        )
