"""`sdi check`: every problem in schemas, code lists and mappings, found before any data is touched."""

from __future__ import annotations

from pathlib import Path

from sdi.core.config import Mapping, Problem, parse, read_yaml, registry
from sdi.loader.mapping import check_mapping
from sdi.loader.read import describe


def check_all(paths: list[Path], source: Path | None = None) -> tuple[list[Problem], str]:
    """All problems, and a one-line count of what was checked."""
    reg = registry()
    problems = list(reg.problems)
    files = _mapping_files(paths or [reg.root / "mappings"])
    layers = columns = None
    if source is not None:
        layers, columns = describe(source)
    for path in files:
        found: list[Problem] = []
        mapping = parse(Mapping, read_yaml(path, found), path, found)
        if mapping is not None:
            cols = columns
            if source is not None and mapping.source.layer and mapping.source.layer in (layers or []):
                cols = describe(source, mapping.source.layer)[1]
            found += check_mapping(mapping, path, reg, columns=cols or None if source else None, layers=layers)
        problems += found
    summary = (
        f"{len(reg.schemas)} schemas, {len(reg.rasters)} raster themes, {len(reg.codelists)} code lists,"
        f" {len(files)} mappings"
    )
    return problems, summary


def _mapping_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for p in paths:
        files += sorted(p.rglob("*.yaml")) if p.is_dir() else [p]
    return files
