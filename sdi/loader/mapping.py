"""Find, read and check mappings: `--mapping FILE`, else config/mappings/<teryt>/<theme>.yaml, else automatic.

`check_mapping` finds every mistake at once, each located as `file: key.path: message`, before any
data is touched; with the source at hand it also checks the columns and the layer.
"""

from __future__ import annotations

import codecs
import logging
from collections.abc import Iterable
from pathlib import Path

from pyproj import CRS
from pyproj.exceptions import CRSError

from sdi.core.config import Mapping, Problem, Registry, fold, parse, read_yaml
from sdi.core.errors import ConfigError
from sdi.loader.convert import TEMPLATE, Unconvertible, convert
from sdi.loader.suggest import auto_mapping

logger = logging.getLogger(__name__)


def read_mapping(path: Path, registry: Registry) -> Mapping:
    """A mapping file, checked against the schemas; all its problems in one ConfigError."""
    problems: list[Problem] = []
    mapping = parse(Mapping, read_yaml(path, problems), path, problems)
    if mapping is not None:
        problems += check_mapping(mapping, path, registry)
    if problems:
        raise ConfigError(
            f"{len(problems)} problem(s) in mapping {path}: " + "; ".join(map(str, problems)),
            f"fix the mapping (`sdi check {path}` lists them)",
        )
    return mapping


def city_mapping(registry: Registry, city: str, theme: str) -> Path | None:
    """The city's own mapping for a theme, kept under config/mappings/<teryt>/<theme>.yaml."""
    path = registry.root / "mappings" / city / f"{theme}.yaml"
    return path if path.exists() else None


def resolve(registry: Registry, *, city: str, theme: str, mapping_path: Path | None) -> tuple[Mapping | None, str]:
    """The mapping to use and where it came from; None means: match the source's columns automatically."""
    path = mapping_path or city_mapping(registry, city, theme)
    if path is None:
        return None, "automatic"
    mapping = read_mapping(Path(path), registry)
    if mapping.theme != theme:
        raise ConfigError(
            f"mapping {path} is for theme {mapping.theme!r}, not {theme!r}",
            f"use --theme {mapping.theme} or another mapping",
        )
    return mapping, str(path)


def automatic(columns: Iterable[str], registry: Registry, theme: str) -> Mapping:
    """The automatic mapping: schema fields matched to the source's columns by name and alias."""
    return auto_mapping(columns, registry.schema(theme))


def check_mapping(
    mapping: Mapping, path: Path, registry: Registry, columns: list[str] | None = None, layers: list[str] | None = None
) -> list[Problem]:
    """Every mistake in a parsed mapping; `columns`/`layers` of the source, when known, are checked too."""
    f = str(path)
    if mapping.theme not in registry.schemas:
        return [Problem(f, "theme", f"unknown theme {mapping.theme!r} (known: {', '.join(sorted(registry.schemas))})")]
    schema = registry.schemas[mapping.theme]
    problems = _check_source(mapping, f, layers)
    for name, fm in mapping.fields.items():
        if name not in schema.fields:
            problems.append(
                Problem(
                    f,
                    f"fields.{name}",
                    f"the {schema.id} schema has no field {name!r} (fields: {', '.join(schema.fields)})",
                )
            )
            continue
        target = schema.fields[name]
        codelist = registry.codelist_for(target)
        constants = [("value", fm.value), ("default", fm.default)]
        constants += [(f"values.{k}", v) for k, v in (fm.values or {}).items() if v is not None]
        for key, const in constants:
            if const is None:
                continue
            if codelist is not None and fold(str(const)) not in codelist.lookup():
                problems.append(
                    Problem(
                        f,
                        f"fields.{name}.{key}",
                        f"{const!r} is not in code list {codelist.id} (codes: {', '.join(list(codelist.codes)[:12])}…)",
                    )
                )
            elif codelist is None and not _converts(const, target.type):
                problems.append(Problem(f, f"fields.{name}.{key}", f"{const!r} is not a valid {target.type}"))
        if columns is not None:
            missing = [c for c in fm.columns if c not in columns]
            if len(fm.columns) > 1 and len(missing) < len(fm.columns):
                missing = []  # a list of columns needs only one of them present
            missing += [c for c in _template_columns(fm.template) if c not in columns]
            for c in missing:
                problems.append(
                    Problem(f, f"fields.{name}.from", f"the source has no column {c!r} (columns: {', '.join(columns)})")
                )
    for name, target in schema.fields.items():
        if target.required and name not in mapping.fields:
            problems.append(Problem(f, "fields", f"required field {name!r} of {schema.id} is not mapped"))
    if columns is not None and mapping.id and mapping.id not in columns:
        problems.append(Problem(f, "id", f"the source has no column {mapping.id!r}"))
    return problems


def _check_source(mapping: Mapping, f: str, layers: list[str] | None) -> list[Problem]:
    problems = []
    if mapping.source.crs:
        try:
            CRS.from_user_input(mapping.source.crs)
        except CRSError:
            problems.append(Problem(f, "source.crs", f"{mapping.source.crs!r} is not a known CRS (e.g. EPSG:2180)"))
    if mapping.source.encoding:
        try:
            codecs.lookup(mapping.source.encoding)
        except LookupError:
            problems.append(
                Problem(
                    f,
                    "source.encoding",
                    f"{mapping.source.encoding!r} is not a known encoding (e.g. cp1250, iso-8859-2, utf-8)",
                )
            )
    if layers is not None and mapping.source.layer and mapping.source.layer not in layers:
        problems.append(
            Problem(
                f, "source.layer", f"the source has no layer {mapping.source.layer!r} (layers: {', '.join(layers)})"
            )
        )
    return problems


def _converts(value, field_type: str) -> bool:
    try:
        convert(value, field_type)
        return True
    except Unconvertible:
        return False


def _template_columns(template: str | None) -> list[str]:
    return TEMPLATE.findall(template or "")


def by_layer(registry: Registry, city: str) -> dict[str, Path]:
    """Shipped mappings that name their source layer (`source: {layer: OT_SKDR_L}`), by that layer.

    A package (a BDOT10k county's zip) is loaded layer by layer with these; the city's own mappings
    (config/mappings/<teryt>/) win over the shipped source models'.
    """
    found: dict[str, Path] = {}
    folder = registry.root / "mappings"
    for path in sorted(folder.glob("*/*.yaml"), key=lambda p: p.parent.name == city):
        problems: list[Problem] = []
        data = read_yaml(path, problems)
        layer = (data.get("source") or {}).get("layer") if isinstance(data, dict) else None
        if isinstance(layer, str) and not problems:
            found[layer] = path  # sorted with the city's own last, so they replace the shipped ones
    return found
