"""Turn a source frame into the stored form of its theme: storage CRS, clean column names, the city code.

Issue #3 replaces the column pass-through with declarative mappings onto the common theme schemas.
"""

from __future__ import annotations

import logging
import re
import unicodedata

import geopandas as gpd

from sdi.settings import STORAGE_SRID

logger = logging.getLogger(__name__)

#: Columns that sdi itself writes in every theme table.
RESERVED = ("fid", "city", "load_id", "geom")


def harmonise(frame: gpd.GeoDataFrame, city: str) -> gpd.GeoDataFrame:
    """Reproject to EPSG:2180, give every column a safe lower-case name, and add `city`."""
    if frame.crs is not None and frame.crs.to_epsg() != STORAGE_SRID:
        frame = frame.to_crs(STORAGE_SRID)
    out = frame.rename(columns=_column_names([c for c in frame.columns if c != frame.geometry.name]))
    out = out.rename_geometry("geom") if out.geometry.name != "geom" else out
    out.insert(0, "city", city)
    return out


def _column_names(columns: list[str]) -> dict[str, str]:
    """Lower-case, ASCII-safe, unique names; a source column called like a reserved one gets `src_`."""
    names: dict[str, str] = {}
    used = set(RESERVED)
    for col in columns:
        name = re.sub(r"[^0-9a-z_]+", "_", _ascii(str(col).strip().lower())).strip("_") or "field"
        if name[0].isdigit() or name in RESERVED:
            name = f"src_{name}"
        base, n = name[:60], 2
        while name in used:
            name, n = f"{base}_{n}", n + 1
        used.add(name)
        names[col] = name
    return names


def _ascii(text: str) -> str:
    """Polish letters to their base letter (ł has no decomposition, so it is mapped by hand)."""
    text = text.replace("ł", "l").replace("Ł", "L")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
