"""Small rasters for the tests, written with rasterio: an orthophoto tile pair, a DEM, a noise map, bad files.

Each is seeded and tiny (at most 400 x 200 pixels), and lies where its CRS says it should: in Poland.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from pyproj import Transformer
from rasterio.transform import from_origin

# Kielce area in PUWG 1992 (EPSG:2180), on whole metres so that windows fall on pixel edges.
ORTHO_ORIGIN = (636_000.0, 358_000.0)  # west, north
ORTHO_PIXEL = 0.5
# Poznań area in PUWG 2000 zone 6 (EPSG:2177; central meridian 18°E).
DEM_ORIGIN = (6_422_000.0, 5_809_000.0)


def orthophoto_pair(folder: Path) -> list[Path]:
    """Two 200 x 200 RGB tiles side by side (west, east): they must mosaic into 400 x 200."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    paths = []
    for i, name in enumerate(("ortho_w.tif", "ortho_e.tif")):
        west = ORTHO_ORIGIN[0] + i * 200 * ORTHO_PIXEL
        data = rng.integers(1, 256, (3, 200, 200), dtype="uint8")
        data[:, 50:60, :] = 90  # a grey road across both tiles
        path = folder / name
        with rasterio.open(
            path,
            "w",
            driver="GTiff",
            width=200,
            height=200,
            count=3,
            dtype="uint8",
            crs="EPSG:2180",
            transform=from_origin(west, ORTHO_ORIGIN[1], ORTHO_PIXEL, ORTHO_PIXEL),
            photometric="RGB",
        ) as ds:
            ds.write(data)
        paths.append(path)
    return paths


def dem(path: Path, *, crs: str | None = "EPSG:2177", driver: str = "GTiff") -> Path:
    """A float32 terrain model, 2 m pixels, 150 x 120, with a nodata corner (-9999), in PUWG 2000 zone 6."""
    y, x = np.mgrid[0:120, 0:150]
    heights = (80.0 + 0.1 * x + 5.0 * np.sin(y / 10.0)).astype("float32")
    heights[:20, :20] = -9999.0
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(
        path,
        "w",
        driver=driver,
        width=150,
        height=120,
        count=1,
        dtype="float32",
        crs=crs,
        transform=from_origin(*DEM_ORIGIN, 2.0, 2.0),
        nodata=-9999.0,
    ) as ds:
        ds.write(heights, 1)
    return path


def noise_map(
    path: Path,
    *,
    dtype: str = "uint8",
    count: int = 1,
    crs: str | None = "EPSG:2180",
    origin: tuple[float, float] | None = None,
) -> Path:
    """Lden classes 1-5 in 10 m pixels, 0 (nodata) at the edge, in EPSG:2180 (or elsewhere: crs, origin)."""
    if origin is None:
        origin = (
            ORTHO_ORIGIN
            if crs in (None, "EPSG:2180")
            else Transformer.from_crs(2180, crs, always_xy=True).transform(*ORTHO_ORIGIN)
        )
    rng = np.random.default_rng(7)
    classes = rng.integers(1, 6, (count, 80, 100)).astype(dtype)
    classes[:, :, :5] = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=100,
        height=80,
        count=count,
        dtype=dtype,
        crs=crs,
        transform=from_origin(origin[0], origin[1], 10.0, 10.0),
        nodata=0,
    ) as ds:
        ds.write(classes)
    return path


def header_bomb(path: Path) -> Path:
    """A tiny sparse GeoTIFF whose header declares 200,000 x 200,000 pixels."""
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=200_000,
        height=200_000,
        count=1,
        dtype="uint8",
        crs="EPSG:2180",
        transform=from_origin(*ORTHO_ORIGIN, 0.01, 0.01),
        tiled=True,
        blockxsize=1024,
        blockysize=1024,
        sparse_ok=True,
        compress="deflate",
    ) as ds:
        ds.write(np.ones((1, 16, 16), dtype="uint8"), window=((0, 16), (0, 16)))
    return path


def corrupt(path: Path) -> Path:
    """A GeoTIFF cut off after its first kilobytes, as an interrupted download leaves it."""
    noise_map(path)
    path.write_bytes(path.read_bytes()[:600])
    return path


def paletted_drawing(path: Path) -> Path:
    """A planning act's drawing as many are scanned: one band of indexes into a colour table, in EPSG:2180."""
    indexes = np.ones((60, 80), dtype="uint8")
    indexes[20:40, 10:70] = 2  # a zone drawn in the plan's yellow
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=80,
        height=60,
        count=1,
        dtype="uint8",
        crs="EPSG:2180",
        transform=from_origin(*ORTHO_ORIGIN, 1.0, 1.0),
        photometric="palette",
    ) as ds:
        ds.write(indexes, 1)
        ds.write_colormap(1, {0: (0, 0, 0, 0), 1: (255, 255, 255, 255), 2: (255, 230, 0, 255)})
    return path
