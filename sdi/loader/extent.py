"""Poland's extent: which points fall inside it. A neutral helper that the read and repair stages both use."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from pyproj import Transformer

POLAND_LONLAT = (14.0, 48.9, 24.3, 55.0)  # west, south, east, north


@lru_cache(maxsize=32)
def _to_lonlat(epsg: int) -> Transformer:
    return Transformer.from_crs(epsg, 4326, always_xy=True)


def inside_poland_mask(x: np.ndarray, y: np.ndarray, epsg: int) -> np.ndarray:
    """True for each point that falls inside Poland's lon/lat box when read as `epsg`."""
    # always_xy: files store easting as x even though EPSG:2180/2176-2179 list northing first.
    lon, lat = _to_lonlat(int(epsg)).transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    lon, lat = np.asarray(lon), np.asarray(lat)
    west, south, east, north = POLAND_LONLAT
    with np.errstate(invalid="ignore"):
        return (lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)
