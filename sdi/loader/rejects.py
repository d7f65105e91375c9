"""Export rejected features to a GeoPackage, with their reason, so that a city can fix them and reload."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import geopandas as gpd
import shapely

from sdi.core.errors import InputError


def export_rejects(rows: list[dict], path: Path) -> None:
    """Write rejects to `path`: one layer per source CRS, with reason, source id and original attributes."""
    if not rows:
        raise InputError("there are no rejects to export", "nothing to fix: the load rejected nothing")
    by_srid: dict[int, list[dict]] = defaultdict(list)
    # A reject with no geometry has no SRID: it joins the layer of the others.
    usual = next((r["srid"] for r in rows if r["wkb"] is not None), 0)
    for r in rows:
        by_srid[r["srid"] if r["wkb"] is not None else usual].append(r)
    for srid, group in by_srid.items():
        attrs = [{"sdi_reason": r["reason"], "sdi_source_id": r["source_id"], **(r["properties"] or {})}
                 for r in group]
        geoms = [shapely.from_wkb(bytes(r["wkb"])) if r["wkb"] is not None else None for r in group]
        frame = gpd.GeoDataFrame(attrs, geometry=geoms, crs=srid or None)
        layer = "rejects" if len(by_srid) == 1 else f"rejects_epsg{srid}"
        frame.to_file(path, layer=layer, driver="GPKG")
