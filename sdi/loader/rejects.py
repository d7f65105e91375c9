"""Rejected features: the record each stage makes of one, and their export to a GeoPackage so that a city can fix
them and reload. A neutral helper: the repair and harmonise stages both reject."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import SupportsIndex

import geopandas as gpd
import shapely

from sdi.core.errors import InputError
from sdi.loader.convert import is_null


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
        attrs = [{"sdi_reason": r["reason"], "sdi_source_id": r["source_id"], **(r["properties"] or {})} for r in group]
        geoms = [shapely.from_wkb(bytes(r["wkb"])) if r["wkb"] is not None else None for r in group]
        frame = gpd.GeoDataFrame(attrs, geometry=geoms, crs=srid or None)
        layer = "rejects" if len(by_srid) == 1 else f"rejects_epsg{srid}"
        frame.to_file(path, layer=layer, driver="GPKG")


def reject_record(frame: gpd.GeoDataFrame, position: SupportsIndex, reason: str) -> dict:
    """A rejected feature as stored in sdi.rejects: its position, reason, properties and geometry."""
    row = frame.iloc[position]
    props = {k: (None if is_null(row[k]) else row[k]) for k in frame.columns if k != frame.geometry.name}
    geom = row[frame.geometry.name]
    return {
        "index": int(frame.index[position]),  # the feature id in the source
        "reason": reason,
        # JSON-safe properties: dates and numpy scalars become text or plain numbers.
        "properties": json.loads(json.dumps(props, default=str)),
        # EWKB in the source's own SRID, so that an export shows the feature where the city drew it.
        "geom_ewkb_hex": None if geom is None or geom.is_empty else _ewkb(geom, frame.crs),
    }


def _ewkb(geom, crs) -> str:
    epsg = crs.to_epsg() if crs is not None else None
    return shapely.to_wkb(shapely.set_srid(geom, epsg or 0), hex=True, include_srid=True)
