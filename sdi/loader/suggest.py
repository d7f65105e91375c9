"""Draft mappings: match a source's columns to a theme's fields, and its values to code lists.

Column names are matched by the field's name and aliases in the schema (Polish and English, BDOT10k
and PRG attribute names, 10-character DBF truncations), then by similarity. Values are matched by the
code list's codes, labels, BDOT10k/APP codes and aliases, then by similarity.
"""

from __future__ import annotations

import difflib
import json
import re
from collections import Counter
from collections.abc import Iterable

import pandas as pd

from sdi.core import teryt
from sdi.core.config import Codelist, FieldMapping, Mapping, Registry, Schema, fold
from sdi.loader.convert import as_list, ascii_fold, hashable, is_missing, to_string

_MAX_VALUES = 60


def normalise(name: str) -> str:
    """A column name as aliases are written: lower-case ASCII with underscores."""
    return re.sub(r"[^0-9a-z]+", "_", ascii_fold(str(name)).lower()).strip("_")


def match_columns(columns: Iterable[str], schema: Schema) -> dict[str, tuple[str, str]]:
    """{target field: (source column, how it matched)}, each column used once, required fields first."""
    by_norm = {normalise(c): c for c in columns}
    taken: set[str] = set()
    found: dict[str, tuple[str, str]] = {}
    order = sorted(schema.fields.items(), key=lambda kv: not kv[1].required)
    for passes in ("exact", "prefix", "similar"):
        for name, field in order:
            if name in found:
                continue
            names = [normalise(a) for a in (name, *field.aliases)]
            hit = _match(names, by_norm, taken, passes)
            if hit:
                found[name] = (by_norm[hit], f"{passes} match of {hit!r}")
                taken.add(hit)
    return {k: found[k] for k in schema.fields if k in found}


def _match(names: list[str], by_norm: dict[str, str], taken: set[str], how: str) -> str | None:
    free = [c for c in by_norm if c not in taken]
    for n in names:
        if how == "exact" and n in free:
            return n
        if how == "prefix":
            # DBF names stop at 10 characters: JEDNOKIERU is jednokierunkowa cut short.
            hits = [c for c in free if len(c) >= 6 and (n.startswith(c) or c.startswith(n) and len(n) >= 6)]
            if hits:
                return hits[0]
    if how == "similar":
        for n in names:
            close = difflib.get_close_matches(n, free, n=1, cutoff=0.88)
            if close:
                return close[0]
    return None


def guess_code(value: str, codelist: Codelist) -> str | None:
    """The code a source value most likely means, or None."""
    lookup = codelist.lookup()
    key = fold(value)
    if key in lookup:
        return lookup[key]
    close = difflib.get_close_matches(key, list(lookup), n=1, cutoff=0.8)
    return lookup[close[0]] if close else None


def auto_mapping(columns: Iterable[str], schema: Schema) -> Mapping:
    """The mapping used when none is given: every field whose name or alias matches a column."""
    matched = match_columns(columns, schema)
    fields = {name: FieldMapping.model_validate({"from": col}) for name, (col, _) in matched.items()}
    return Mapping(theme=schema.id, fields=fields)


def suggest(frame: pd.DataFrame, schema: Schema, registry: Registry, *, source_name: str, layer: str) -> str:
    """A draft mapping as commented YAML that loads as it is."""
    columns = [c for c in frame.columns if c != getattr(frame, "geometry", pd.Series(name=None)).name]
    matched = match_columns(columns, schema)
    matched.update(_teryt_columns(frame, columns, schema, matched))
    lines = [
        f"# Draft mapping of {source_name} onto theme {schema.id}, written by `sdi mapping suggest`.",
        "# Check each line. Values that match no code are listed as comments: add them by hand.",
        f"theme: {schema.id}",
        "source:",
        f"  layer: {json.dumps(layer, ensure_ascii=False)}",
        "fields:",
    ]
    for name, field in schema.fields.items():
        codelist = registry.codelist_for(field)
        if name not in matched:
            constant = _constant(frame, columns, codelist) if field.required and codelist else None
            if constant:
                lines.append(f"  {name}: {{value: {constant[0]}}}   # {constant[1]}")
            else:
                lines.append(f"  # {name}: ?{'   (required)' if field.required else ''}")
            continue
        column, how = matched[name]
        lines.append(f"  {name}:   # {how}")
        lines.append(f"    from: {json.dumps(column, ensure_ascii=False)}")
        if codelist is not None:
            block = _values_block(frame[column], codelist)
            lines += block
            if any("?   (" in line for line in block):
                # No default: a default would store every unknown code as it, silently.
                fate = "rejected (the field is required)" if field.required else "stored as null"
                lines.append(f"    # values marked ? are {fate} and listed in the load report: map each one")
    unused = [c for c in columns if c not in {col for col, _ in matched.values()}]
    if unused:
        lines.append(f"# not mapped: {', '.join(unused)}")
    return "\n".join(lines) + "\n"


def _teryt_columns(
    frame: pd.DataFrame, columns: list[str], schema: Schema, matched: dict[str, tuple[str, str]]
) -> dict[str, tuple[str, str]]:
    """TERYT fields that no column name matched, found by their values (1465011, PRG's 146501_1)."""
    taken = {col for col, _ in matched.values()}
    found: dict[str, tuple[str, str]] = {}
    for name, field in schema.fields.items():
        if field.format != "teryt" or name in matched:
            continue
        for column in columns:
            if column not in taken and teryt.looks_like(frame[column].head(1000).tolist()):
                found[name] = (column, "its values are TERYT codes (normalised to 7 digits on load)")
                taken.add(column)
                break
    return found


def _constant(frame: pd.DataFrame, columns: list[str], codelist: Codelist) -> tuple[str, str] | None:
    """(code, why) when a column evidently says one code for every feature: its single value, or its first word."""
    lookup = codelist.lookup()
    for column in columns:
        values = {to_string(v) for v in frame[column].head(5000) if not is_missing(v) and not isinstance(v, list)}
        if not values:
            continue
        if len(values) == 1 and fold(next(iter(values))) in lookup:
            value = next(iter(values))
            return lookup[fold(value)], f"{column} holds the single value {value!r}"
        firsts = {fold(v.split()[0]) for v in values if v.split()}
        if len(firsts) == 1 and next(iter(firsts)) in lookup and len(values) > 1:
            word = next(iter(values)).split()[0]
            return lookup[next(iter(firsts))], f"every {column} value starts with {word!r}"
    return None


def _values_block(series: pd.Series, codelist: Codelist) -> list[str]:
    counts: Counter = Counter()
    for v in series:
        for e in (as_list(v) or [v]) if not is_missing(v) else []:
            counts[to_string(hashable(e))] += 1
    lines = ["    values:"]
    for value, n in counts.most_common(_MAX_VALUES):
        code = guess_code(value, codelist)
        key = json.dumps(value, ensure_ascii=False)
        lines.append(f"      {key}: {code}   # {n} features" if code else f"      # {key}: ?   ({n} features)")
    if len(counts) > _MAX_VALUES:
        lines.append(f"      # ... and {len(counts) - _MAX_VALUES} more distinct values")
    if len(lines) == 1:
        return []
    return lines
