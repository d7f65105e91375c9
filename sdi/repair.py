"""Geometry checks and repairs: every feature is either kept (repaired if needed) or rejected with its reason."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

logger = logging.getLogger(__name__)


@dataclass
class Repaired:
    """The outcome of repair: features to store, features rejected, and how many were mended."""

    kept: gpd.GeoDataFrame
    rejects: list[dict] = field(default_factory=list)
    repaired: int = 0


def repair(frame: gpd.GeoDataFrame) -> Repaired:
    """Reject null and empty geometries; make invalid ones valid with shapely's make_valid."""
    geoms = frame.geometry.values
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    rejects = [reject_record(frame, i, "null or empty geometry") for i in np.flatnonzero(missing)]
    kept = frame[~missing].copy()

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
        logger.info("made %d invalid geometries valid", int(invalid.sum()))
    if collapsed.any():
        rejects += [reject_record(kept, i, "invalid polygon that encloses no area (its rings collapse to lines)")
                    for i in np.flatnonzero(collapsed)]
        kept = kept[~collapsed]
    return Repaired(kept=kept, rejects=rejects, repaired=int(invalid.sum() - collapsed.sum()))


def reject_record(frame: gpd.GeoDataFrame, position: int, reason: str) -> dict:
    """A rejected feature as stored in sdi.rejects: its position, reason, properties and geometry."""
    row = frame.iloc[position]
    props = {k: (None if _is_na(row[k]) else row[k]) for k in frame.columns if k != frame.geometry.name}
    geom = row[frame.geometry.name]
    return {
        "index": int(frame.index[position]),  # the feature id in the source
        "reason": reason,
        # JSON-safe properties: dates and numpy scalars become text or plain numbers.
        "properties": json.loads(json.dumps(props, default=str)),
        "geom_wkt": None if geom is None or geom.is_empty else geom.wkt,
    }


def _is_na(value) -> bool:
    # NaN is not valid JSON, and jsonb refuses it.
    return value is None or value is pd.NaT or (isinstance(value, float) and np.isnan(value))
