"""Harmonise: map a source frame onto its theme's common schema, in the storage CRS.

Fields are filled as the mapping says; codes are translated through the mapping's `values` and the code
list; values are converted to the field's type. Nothing disappears silently: a value that does not map or
convert is counted by name in the report, and a feature whose required field ends up empty, or whose
geometry does not fit the theme, is rejected with its reason.

Multi-value source fields (a list in one field, such as BDOT10k's funSzczegolowaBudynku) map to a
single-value target as the first element that maps; to a `multiple` target as all elements that map,
joined by commas; to a plain text target as all elements joined by ", ".
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import shapely
from pyproj import CRS, Transformer

from sdi.core import teryt
from sdi.core.config import Codelist, FieldMapping, Mapping, Registry, Schema, SchemaField, fold
from sdi.core.settings import STORAGE_SRID
from sdi.loader.convert import TEMPLATE, Unconvertible, as_list, convert, hashable, is_missing, to_string
from sdi.loader.rejects import reject_record

logger = logging.getLogger(__name__)

_SINGLE = {"MultiPolygon": "Polygon", "MultiLineString": "LineString", "MultiPoint": "Point"}
_TYPE_IDS = {"Point": 0, "LineString": 1, "Polygon": 3, "MultiPoint": 4, "MultiLineString": 5, "MultiPolygon": 6}
_MULTI_OF = {"Polygon": shapely.multipolygons, "LineString": shapely.multilinestrings, "Point": shapely.multipoints}


@dataclass
class Harmonised:
    """The frame in the theme's schema, its rejects, and what did not map or convert, counted by value."""

    frame: gpd.GeoDataFrame
    rejects: list[dict] = field(default_factory=list)
    unmapped_values: dict[str, dict[str, int]] = field(default_factory=dict)
    unconverted_values: dict[str, dict[str, int]] = field(default_factory=dict)
    unmapped_columns: list[str] = field(default_factory=list)
    defaulted: dict[str, Any] = field(default_factory=dict)  # field -> the default its misses became
    promoted: int = 0  # single geometries promoted to the theme's Multi type


def harmonise(
    frame: gpd.GeoDataFrame, *, city: str, schema: Schema, mapping: Mapping, registry: Registry
) -> Harmonised:
    """Map `frame` onto `schema` for `city` and reproject it to EPSG:2180."""
    source_frame = frame  # rejects keep the geometry as the city drew it
    if frame.crs is not None and frame.crs.to_epsg() != STORAGE_SRID:
        frame = _to_storage(frame)
    out = Harmonised(frame=frame)
    reasons: dict[int, str] = {}
    geoms = _fit_geometries(frame.geometry.values, schema, reasons)
    out.promoted = int(
        np.sum(shapely.get_type_id(frame.geometry.values) == _TYPE_IDS.get(_SINGLE.get(schema.geometry, ""), -2))
    )
    columns: dict[str, Any] = {"city": city, "source_id": _source_ids(frame, mapping)}
    for name, target in schema.fields.items():
        fm = mapping.fields.get(name)
        values = (
            np.full(len(frame), None, dtype=object) if fm is None else _fill(frame, name, target, fm, registry, out)
        )
        # text comes back as Arrow; anything else as objects: keep ints as ints, None as None
        column = values if isinstance(values, pd.Series) else pd.Series(values, dtype=object, copy=False)
        if target.required:
            for i in np.flatnonzero(column.isna().to_numpy()):
                reasons.setdefault(int(i), _required_reason(frame, name, fm, int(i)))
        columns[name] = column
    used = {c for fm in mapping.fields.values() for c in (*fm.columns, *TEMPLATE.findall(fm.template or ""))}
    out.unmapped_columns = [c for c in frame.columns if c != frame.geometry.name and c not in used | {mapping.id}]
    # copy=False: one block per column, as built, instead of copying every object column into one block
    # (0.9 s per million rows of a 20-field theme).
    columns["geom"] = gpd.GeoSeries(geoms, crs=STORAGE_SRID)
    result = gpd.GeoDataFrame(columns, geometry="geom", crs=STORAGE_SRID, copy=False)
    if reasons:
        out.rejects = [reject_record(source_frame, i, r) for i, r in sorted(reasons.items())]
        result = result.drop(index=result.index[sorted(reasons)])
    out.frame = result
    return out


def _to_storage(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The frame reprojected to EPSG:2180, as GeoDataFrame.to_crs does it (same transformer, same numbers).

    Points are rebuilt from their transformed coordinates in one call, instead of each one being cloned
    and then given new coordinates; other geometries go through geopandas.
    """
    geoms = frame.geometry.values
    data = np.asarray(geoms)
    if (
        not len(data)
        or not (shapely.get_type_id(data) == 0).all()
        or (shapely.has_z(data) | shapely.is_empty(data)).any()
    ):
        return frame.to_crs(STORAGE_SRID)
    x, y = _transformer(frame.crs).transform(shapely.get_x(data), shapely.get_y(data))
    moved = gpd.GeoSeries(shapely.points(np.asarray(x), np.asarray(y)), index=frame.index, crs=STORAGE_SRID)
    return frame.set_geometry(moved, crs=STORAGE_SRID)


@functools.lru_cache(maxsize=16)
def _transformer(source: CRS) -> Transformer:
    return Transformer.from_crs(source, CRS.from_user_input(STORAGE_SRID), always_xy=True)


def _source_ids(frame: gpd.GeoDataFrame, mapping: Mapping) -> list[str | None] | pd.Series:
    if mapping.id:
        return [None if is_missing(v) else to_string(v) for v in frame[mapping.id]]
    if frame.index.dtype.kind in "iu":  # the feature id in the source (read with fid_as_index), as text, in C
        return pd.Series(pa.array(frame.index.to_numpy()).cast(_TEXT), dtype=pd.ArrowDtype(_TEXT))
    return [str(i) for i in frame.index]


def _fill(
    frame, name: str, target: SchemaField, fm: FieldMapping, registry: Registry, out: Harmonised
) -> list | np.ndarray | pd.Series:
    """The target column: raw values from the mapping, translated and converted once per distinct value."""
    if fm.value is not None:
        return [convert(fm.value, target.type)] * len(frame)
    codelist = registry.codelist_for(target)
    lookup = codelist.lookup() if codelist else {}
    # Each distinct value is translated once: factorize numbers the values in C, so a million rows of
    # ten service types cost ten translations. Lists (multi-valued cells) are not hashable by pandas.
    present = [c for c in fm.columns if c in frame.columns]
    try:
        if not fm.template and len(present) == 1:
            # One source column: factorized as it is (no Python list of every value); its distinct
            # values then become the same Python objects that the column's tolist() would give.
            codes, uniques = pd.factorize(frame[present[0]], use_na_sentinel=False)
            uniques = uniques.tolist()
        else:
            raw = _templated(frame, fm.template) if fm.template else _coalesce(frame, fm.columns)
            codes, uniques = pd.factorize(pd.Series(raw, dtype=object), use_na_sentinel=False)
    except TypeError:
        raw = _templated(frame, fm.template) if fm.template else _coalesce(frame, fm.columns)
        keys = [hashable(v) for v in raw]
        uniques = list(dict.fromkeys(keys))
        position = {k: i for i, k in enumerate(uniques)}
        codes = np.fromiter((position[k] for k in keys), dtype=np.intp, count=len(keys))
    counts = np.bincount(codes, minlength=len(uniques))
    results = np.empty(len(uniques), dtype=object)
    for i, value in enumerate(uniques):
        value = hashable(value)
        results[i], problem = _translate(value, target, fm, lookup, codelist)
        if problem:
            bucket = out.unmapped_values if problem == "unmapped" else out.unconverted_values
            bucket.setdefault(name, {})[to_string(value)] = int(counts[i])
            if fm.default is not None:
                out.defaulted[name] = fm.default
    if target.type == "string":
        # Text stays in Arrow: the distinct values converted once, then a take in C; the COPY encoder then
        # sends the Arrow buffers as they are instead of encoding a million Python strings again.
        try:
            return pd.Series(pa.array(results, type=_TEXT).take(codes), dtype=pd.ArrowDtype(_TEXT))
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            pass  # a value that is not text (the mapping gives a default of another type): objects below
    return results[codes]  # an object array: ints stay ints, None stays None


_TEXT = pa.large_string()


def _translate(value: Any, target: SchemaField, fm: FieldMapping, lookup: dict, codelist: Codelist | None):
    """(result, problem) for one distinct source value; problem is None, 'unmapped' or 'unconverted'."""
    if is_missing(value):
        return convert(fm.default, target.type) if fm.default is not None else None, None
    elements = as_list(list(value) if isinstance(value, tuple) else value)
    if elements is not None:
        results = [_translate(e, target, fm, lookup, codelist) for e in elements]
        good = [r for r, p in results if p is None and r is not None]
        if target.multiple or (codelist is None and not fm.values and target.type == "string"):
            return (",".join(good) if target.multiple else ", ".join(good)) or None, None
        if good:
            return good[0], None
        return results[0] if results else (None, None)
    code = value
    if fm.values is not None:
        key = to_string(value)
        hit = fm.values.get(key, fm.values.get(fold(key), _MISS))
        if hit is _MISS:
            hit = next((v for k, v in fm.values.items() if fold(k) == fold(key)), _MISS)
        if hit is not _MISS:
            code = hit
            if code is None:
                return None, None  # mapped to null on purpose
        elif codelist is not None and fold(key) not in lookup:
            return _fallback(fm, target, "unmapped")
        # Without a code list, `values` is a partial translation: other values pass through as they are.
    if codelist is not None:
        code = lookup.get(fold(to_string(code)))
        if code is None:
            return _fallback(fm, target, "unmapped")
    try:
        converted = convert(code, target.type)
        return (teryt.normalise(converted) if target.format == "teryt" and converted else converted), None
    except (Unconvertible, teryt.NotTeryt):
        return _fallback(fm, target, "unconverted")


_MISS = object()


def _fallback(fm: FieldMapping, target: SchemaField, problem: str):
    return (convert(fm.default, target.type) if fm.default is not None else None), problem


def _coalesce(frame: pd.DataFrame, columns: list[str]) -> list:
    """The first non-missing value among the columns, row by row.

    Of a list of columns, those the source lacks are skipped, so one mapping serves extracts of a
    register (RSPO) that differ in their optional columns; `sdi check` insists that one exists.
    """
    present = [c for c in columns if c in frame.columns]
    if not present:
        return [None] * len(frame)
    values = frame[present[0]].tolist()
    for col in present[1:]:
        values = [b if is_missing(a) else a for a, b in zip(values, frame[col].tolist(), strict=True)]
    return values


def _templated(frame: pd.DataFrame, template: str) -> list:
    cols = TEMPLATE.findall(template)
    rows = zip(*(frame[c].tolist() for c in cols), strict=True) if cols else [()] * len(frame)
    out = []
    for row in rows:
        parts = dict(zip(cols, row, strict=True))

        def fill(m: re.Match, parts: dict = parts) -> str:
            value = parts[m.group(1)]
            return "" if is_missing(value) else to_string(value)

        text = TEMPLATE.sub(fill, template)
        out.append(" ".join(text.split()).strip(" ,") or None)
    return out


def _required_reason(frame, name: str, fm: FieldMapping | None, i: int) -> str:
    if fm is None:
        return f"required field {name} is not mapped"
    if fm.columns:
        raw = next((frame[c].iloc[i] for c in fm.columns if not is_missing(frame[c].iloc[i])), None)
        if raw is not None:
            return f"required field {name}: source value {to_string(raw)!r} ({'/'.join(fm.columns)}) does not map"
        return f"required field {name} is empty in the source ({'/'.join(fm.columns)})"
    return f"required field {name} is empty"


def _fit_geometries(geoms: np.ndarray, schema: Schema, reasons: dict[int, str]) -> np.ndarray:
    """Promote single geometries to the theme's Multi type; reject those of another dimension."""
    target = schema.geometry
    single = _SINGLE.get(target, target)
    ids = shapely.get_type_id(geoms)
    if (ids == _TYPE_IDS[target]).all():
        return np.asarray(geoms)
    if target != single and (ids == _TYPE_IDS[single]).all():
        # The common case, vectorised: a shapefile of Polygons for a MultiPolygon theme.
        return _MULTI_OF[single](geoms, indices=np.arange(len(geoms)))
    out = np.array(geoms, dtype=object)
    for i, g in enumerate(geoms):
        if g is None:
            continue
        kind = g.geom_type
        if kind == target:
            continue
        if kind == single and target != single:
            out[i] = _MULTI_OF[single]([g])
        elif kind == "GeometryCollection" or (target == "Point" and kind == "MultiPoint"):
            parts = [p for p in shapely.get_parts(g) if p.geom_type in (single, target)]
            if target == "Point":
                out[i] = parts[0] if len(parts) == 1 else None
            else:
                out[i] = _multi(single, parts) if parts else None
            if out[i] is None:
                reasons.setdefault(i, f"a {kind} does not fit theme {schema.id} ({target})")
        else:
            reasons.setdefault(i, f"a {kind} does not fit theme {schema.id} ({target})")
            out[i] = None
    return out


def _multi(single: str, parts: list) -> Any:
    flat = [q for p in parts for q in shapely.get_parts(p)]
    return {"Polygon": shapely.MultiPolygon, "LineString": shapely.MultiLineString, "Point": shapely.MultiPoint}[
        single
    ](flat)
