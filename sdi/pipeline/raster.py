"""Raster loads: a file, a folder of tiles or a zip as the city's new version of a raster theme, all or nothing."""

from __future__ import annotations

import getpass
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sdi.core import sqlfiles
from sdi.core.catalogue import Provenance, open_catalogue
from sdi.core.config import registry as config_registry
from sdi.core.settings import Settings, get_settings
from sdi.loader.report import fingerprint


def run_load_raster(
    path: Path,
    *,
    city: str,
    theme: str,
    crs: str | None = None,
    settings: Settings | None = None,
    step: Callable[[str], None] = lambda _: None,
) -> dict:
    """Load a raster (a file, a folder of tiles or a zip) as the city's new version of a raster theme.

    read and check -> mosaic, convert and reproject into a COG -> catalogue: all or nothing.
    Returns the report, whose keys `sdi load-raster --report` writes.
    """
    # imported here: rasterio is not needed by vector loads, and its import is a noticeable part of theirs
    from sdi.loader.raster import read_raster
    from sdi.loader.raster_store import store_raster

    started, started_at = time.perf_counter(), datetime.now(UTC)
    settings = settings or get_settings()
    sqlfiles.check_city(city)
    schema = config_registry(settings).raster(sqlfiles.check_theme(theme))
    step("reading")
    source = read_raster(
        Path(path),
        schema,
        crs=crs,
        max_unzipped_bytes=settings.max_unzipped_mb * 1024 * 1024,
        max_mpix=settings.max_raster_mpix,
    )
    size, digest = fingerprint(Path(path))
    detected = {
        "crs": f"EPSG:{source.epsg}",
        "crs_source": source.crs_source,
        "tiles": len(source.tiles),
        "dtype": source.dtype,
        "nodata": source.nodata,
    }
    step("writing the Cloud-Optimized GeoTIFF")
    with open_catalogue(settings) as conn:
        provenance = Provenance(str(Path(path).resolve()), None, detected, size, digest, getpass.getuser(), started_at)
        stored = store_raster(conn, source, schema, city=city, folder=settings.raster_dir_abs, provenance=provenance)
    return {
        "load_id": stored["load_id"],
        "city": city,
        "theme": theme,
        "source": {"path": str(path), "sha256": digest, "size": size, "tiles": len(source.tiles)},
        "crs": f"EPSG:{source.epsg}",
        "crs_source": source.crs_source,
        "stored_crs": "EPSG:2180",
        "resampling": schema.resampling if source.epsg != 2180 else None,
        "width": stored["width"],
        "height": stored["height"],
        "bands": stored["bands"],
        "dtype": stored["dtype"],
        "nodata": stored["nodata"],
        "resolution_m": stored["resolution"],
        "bounds": stored["bounds"],
        "value_range": stored["range"],
        "cog": {"path": stored["path"], "bytes": stored["bytes"], "overviews": stored["overviews"], "valid": True},
        "warnings": source.warnings,
        "duration_s": round(time.perf_counter() - started, 3),
    }
