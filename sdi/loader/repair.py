"""Geometry checks and repairs: every feature is either kept (repaired if needed) or rejected with its reason.

Repairs are counted by kind: curves linearised (on reading), Z/M dropped, invalid made valid. Rejects: null or
empty geometries, polygons whose rings enclose no area, and features that lie outside Poland (a stray point at (0, 0)).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import shapely

from sdi.loader.extent import inside_poland_mask
from sdi.loader.rejects import reject_record

logger = logging.getLogger(__name__)


@dataclass
class Repaired:
    """The outcome of repair: features to store, features rejected, and how many were mended, by kind."""

    kept: gpd.GeoDataFrame
    rejects: list[dict] = field(default_factory=list)
    repairs: dict[str, int] = field(default_factory=dict)

    @property
    def repaired(self) -> int:
        return sum(self.repairs.values())


def repair(frame: gpd.GeoDataFrame) -> Repaired:
    """Reject what cannot be stored; drop Z/M and make invalid geometries valid."""
    geoms = frame.geometry.values
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    rejects = [reject_record(frame, i, "null or empty geometry") for i in np.flatnonzero(missing)]
    kept = frame[~missing].copy()
    repairs: dict[str, int] = {"curves_linearised": frame.attrs.get("curves_linearised", 0)}

    has_z = shapely.has_z(kept.geometry.values)
    if has_z.any():
        # The storage columns are 2D; heights in municipal 2D data are usually zeros anyway.
        kept.loc[has_z, kept.geometry.name] = shapely.force_2d(kept.geometry.values[has_z])
        repairs["z_dropped"] = int(has_z.sum())

    invalid = ~shapely.is_valid(kept.geometry.values)
    collapsed = np.zeros(len(kept), dtype=bool)
    if invalid.any():
        # make_valid keeps every vertex; a bow-tie becomes a MultiPolygon rather than vanishing.
        before = kept.geometry.values[invalid]
        fixed = shapely.make_valid(before)
        kept.loc[invalid, kept.geometry.name] = fixed
        # A polygon whose rings enclose no area comes back as lines: it has nothing left to store.
        polygonal = np.isin(shapely.get_type_id(before), [3, 6])
        no_area = polygonal & (shapely.area(fixed) == 0)
        collapsed[np.flatnonzero(invalid)[no_area]] = True
        repairs["made_valid"] = int(invalid.sum() - no_area.sum())
    outside = np.zeros(len(kept), dtype=bool)
    if kept.crs is not None and kept.crs.to_epsg() and len(kept):
        geoms = kept.geometry.values
        points = shapely.get_type_id(geoms) == 0
        # a point is its own centroid: only the other geometries need GEOS to find theirs
        centres = np.asarray(geoms) if points.all() else shapely.centroid(geoms)
        outside = ~inside_poland_mask(shapely.get_x(centres), shapely.get_y(centres), kept.crs.to_epsg())
    for mask, reason in (
        (collapsed, "invalid polygon that encloses no area (its rings collapse to lines)"),
        (outside & ~collapsed, "lies outside Poland"),
    ):
        rejects += [reject_record(kept, i, reason) for i in np.flatnonzero(mask)]
    kept = kept[~(collapsed | outside)]
    return Repaired(kept=kept, rejects=rejects, repairs={k: v for k, v in repairs.items() if v})
