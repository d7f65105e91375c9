"""A bbox in any supported CRS as the region of the storage CRS (EPSG:2180) that it covers.

Two corners are not a region: the CRS84 box -180,-90,180,90 taken to EPSG:2180 corner by corner collapsed to
zero width and matched nothing. Here the box's edges are densified (21 points each, as pyproj's
transform_bounds does), clamped to the area of use of the CRSs on the way, and reprojected point by point
into a polygon. The provider selects with ST_Intersects against that polygon (its envelope only reaches
the index). A geographic box whose first longitude is greater than its second crosses the antimeridian
(OGC API Features Part 1, /req/core/fc-bbox-definition): it is read as two boxes, never swapped.
"""

from __future__ import annotations

import functools
import itertools
import logging
import math

from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError
from shapely.geometry import Polygon, box
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from sdi.core.settings import CRS84, STORAGE_SRID

logger = logging.getLogger(__name__)

DENSIFY_POINTS = 21
_LONLAT = CRS.from_user_input("OGC:CRS84")


@functools.lru_cache(maxsize=32)
def crs(uri: str) -> CRS:
    """The CRS of a URI (CRS84 and EPSG URIs); raises ValueError for an unknown one."""
    try:
        return _LONLAT if uri in (CRS84, CRS84 + "h") else CRS.from_user_input(uri)
    except CRSError:
        raise ValueError(f"unknown CRS {uri!r}") from None


@functools.lru_cache(maxsize=64)
def _transformer(source: str, target: str) -> Transformer:
    # always_xy: easting/longitude first on both sides; the axis order of the URIs is handled in corners()
    return Transformer.from_crs(crs(source), crs(target), always_xy=True)


def north_first(uri: str) -> bool:
    """Whether the CRS's first axis points north (EPSG:4326 is lat/lon, EPSG:2180 northing/easting)."""
    return crs(uri).axis_info[0].direction.lower() == "north"


def corners(bbox: list[float], uri: str) -> tuple[float, float, float, float]:
    """(x1, y1, x2, y2) of a 4- or 6-number bbox in x = easting/longitude order; heights are dropped."""
    if len(bbox) not in (4, 6):
        raise ValueError("bbox takes 4 numbers (minx,miny,maxx,maxy) or 6 (with the minimum and maximum height)")
    if not all(math.isfinite(v) for v in bbox):
        raise ValueError("bbox values must be finite numbers")
    n = len(bbox) // 2
    a1, b1, a2, b2 = bbox[0], bbox[1], bbox[n], bbox[n + 1]
    x1, y1, x2, y2 = (b1, a1, b2, a2) if north_first(uri) else (a1, b1, a2, b2)
    if y1 > y2:
        raise ValueError(
            f"the bbox's lower {'latitude' if crs(uri).is_geographic else 'edge'} ({y1}) is above"
            f" its upper one ({y2}): give the lower corner first"
        )
    if crs(uri).is_geographic:
        if not (-90 <= y1 <= 90 and -90 <= y2 <= 90):
            raise ValueError("bbox latitudes must lie between -90 and 90")
        if not (-180 <= x1 <= 180 and -180 <= x2 <= 180):
            raise ValueError("bbox longitudes must lie between -180 and 180")
    elif x1 > x2:
        raise ValueError(f"the bbox's first easting ({x1}) is greater than its second ({x2})")
    return x1, y1, x2, y2


def region(bbox: list[float], uri: str) -> BaseGeometry:
    """The part of EPSG:2180 (x = easting) that the bbox covers; empty when it misses Poland's area of use."""
    storage = f"http://www.opengis.net/def/crs/EPSG/0/{STORAGE_SRID}"
    x1, y1, x2, y2 = corners(bbox, uri)
    if crs(uri) == crs(storage):
        return box(x1, y1, x2, y2)
    # the storage CRS's area of use, where its projection means something
    area = crs(storage).area_of_use
    if area is None:  # EPSG:2180 has one; pyproj types it as optional
        raise ValueError(f"EPSG:{STORAGE_SRID} has no area of use")
    use = box(*area.bounds)
    if crs(uri).is_geographic:
        parts = [box(x1, y1, 180, y2), box(-180, y1, x2, y2)] if x1 > x2 else [box(x1, y1, x2, y2)]
        lonlat = [p.intersection(use) for p in parts]
        return _union([_reproject(p, CRS84, storage) for p in lonlat if not p.is_empty])
    # A projected box: first clamped to Poland's area of use as seen in the box's CRS (far outside it a
    # transverse Mercator gives nonsense), then reprojected and clamped again in the storage CRS. Not to
    # the box's own CRS's area of use: a zone of PUWG 2000 is a valid frame a little beyond its own strip.
    poland = _reproject(use, CRS84, uri)
    clamped = box(x1, y1, x2, y2).intersection(poland.envelope)
    if clamped.is_empty:
        return clamped
    return _reproject(clamped, uri, storage).intersection(_reproject(use, CRS84, storage))


def _reproject(shape: BaseGeometry, source: str, target: str) -> BaseGeometry:
    """A box (or polygon) reprojected with its edges densified, so that curved edges stay covered."""
    if shape.is_empty:
        return shape
    transform = _transformer(source, target).transform
    ring = list(shape.exterior.coords) if isinstance(shape, Polygon) else list(shape.envelope.exterior.coords)
    points = []
    for (ax, ay), (bx, by) in itertools.pairwise(ring):
        points += [
            (ax + (bx - ax) * i / DENSIFY_POINTS, ay + (by - ay) * i / DENSIFY_POINTS) for i in range(DENSIFY_POINTS)
        ]
    xs, ys = transform([p[0] for p in points], [p[1] for p in points])
    kept = [(x, y) for x, y in zip(xs, ys, strict=True) if math.isfinite(x) and math.isfinite(y)]
    if len(kept) < 3:
        return Polygon()
    made = Polygon(kept)
    return made if made.is_valid else made.buffer(0)


def _union(parts: list[BaseGeometry]) -> BaseGeometry:
    parts = [p for p in parts if not p.is_empty]
    return unary_union(parts) if parts else Polygon()


class Region(list):
    """What pygeoapi hands the provider as `bbox`: the region's envelope (4 numbers), with the region itself.

    A list, so that pygeoapi's own checks (`len(bbox) > 0`) keep working; the provider reads `.shape`.
    """

    shape: BaseGeometry

    @classmethod
    def of(cls, bbox: list[float], uri: str) -> Region:
        shape = _cached_region(tuple(bbox), uri)
        made = cls(shape.bounds if not shape.is_empty else [0.0, 0.0, 0.0, 0.0])
        made.shape = shape
        return made


@functools.lru_cache(maxsize=256)
def _cached_region(bbox: tuple[float, ...], uri: str) -> BaseGeometry:
    """region() once per distinct bbox in a worker: map clients ask for the same boxes again and again, and
    densifying and reprojecting a box costs 1.5 ms. Shapely geometries are immutable, so sharing one is safe."""
    return region(list(bbox), uri)
