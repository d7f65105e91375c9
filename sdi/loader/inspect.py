"""`sdi inspect`: what a source holds and what sdi detects in it, without touching the database."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import shapely
from pyproj import Transformer

from sdi.core.errors import InputError
from sdi.loader import sources
from sdi.loader.convert import is_missing, to_string
from sdi.loader.read import read

logger = logging.getLogger(__name__)

_SAMPLES = 3


def inspect_source(path: Path, layer: str | None = None, encoding: str | None = None, crs: str | None = None) -> dict:
    """Layers, counts, geometry types, fields with samples, encoding, CRS, extent and invalid geometries."""
    path = Path(path)
    layers = []
    try:  # the same path rules as loading: every layer of every file, zips included
        listed = sources.layers(path, layer) if path.exists() else []
    except Exception:  # read() below raises the user-facing error for an unreadable source
        listed = []
    for found in listed:
        if layer is None or found.name == layer or len(listed) == 1:
            layers.append(_layer(path, found.name, found.geometry_type, encoding, crs))
    if not layers:
        read(path, layer=layer, encoding=encoding, crs=crs)  # raises the precise InputError
        raise InputError(f"{path}: no vector layer found", "check the file")
    return {"path": str(path), "layers": layers}


def _layer(path: Path, name: str, geometry_type, encoding: str | None, crs: str | None) -> dict:
    info: dict = {"name": name, "geometry_type": geometry_type}
    try:
        # A table without geometry (PRG's name lists) has no CRS to find, and is no error.
        source = read(path, layer=name, encoding=encoding, crs=crs, require_crs=geometry_type is not None)
    except InputError as exc:
        info["error"] = str(exc)
        return info
    frame = source.frame
    geoms = frame.geometry.values
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    info.update(
        {
            "features": len(frame),
            "geometry_types": {str(k): int(v) for k, v in frame.geom_type.value_counts(dropna=False).items()},
            "null_or_empty_geometries": int((~present).sum()),
            "invalid_geometries": int((~shapely.is_valid(geoms[present])).sum()),
            **{k: source.detected.get(k) for k in ("driver", "encoding", "encoding_source", "crs", "crs_source")},
            "extent_lonlat": _extent(frame, present),
            "fields": {c: _samples(frame[c]) for c in frame.columns if c != frame.geometry.name},
            "warnings": source.warnings,
        }
    )
    return info


def _samples(series) -> dict:
    values = []
    for v in series:
        if not is_missing(v) and to_string(v) not in values:
            values.append(to_string(v))
        if len(values) == _SAMPLES:
            break
    return {"type": str(series.dtype), "samples": values}


def _extent(frame, present: np.ndarray) -> list[float] | None:
    if frame.crs is None or not present.any():
        return None
    minx, miny, maxx, maxy = shapely.total_bounds(frame.geometry.values[present])
    to_lonlat = Transformer.from_crs(frame.crs, 4326, always_xy=True)
    xs, ys = to_lonlat.transform([minx, maxx, minx, maxx], [miny, miny, maxy, maxy])
    return [round(min(xs), 6), round(min(ys), 6), round(max(xs), 6), round(max(ys), 6)]
