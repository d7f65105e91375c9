"""The one place where the stages are chained: read -> repair -> harmonise -> load."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from sdi import mapping as mappings
from sdi import sqlfiles
from sdi.catalogue import open_catalogue
from sdi.config import registry as config_registry
from sdi.harmonise import harmonise
from sdi.load import Provenance, load
from sdi.read import read
from sdi.repair import repair
from sdi.settings import Settings, get_settings

logger = logging.getLogger(__name__)


@dataclass
class LoadReport:
    """What one `sdi load` did; printed after each load and written with --report."""

    load_id: int | None
    city: str
    theme: str
    source: str
    layer: str
    mapping: str
    features_read: int
    features_loaded: int
    features_rejected: int
    geometries_repaired: int
    detected: dict
    seconds: float
    dry_run: bool = False
    reject_reasons: dict[str, int] = field(default_factory=dict)
    unmapped_values: dict[str, dict[str, int]] = field(default_factory=dict)
    unconverted_values: dict[str, dict[str, int]] = field(default_factory=dict)
    unmapped_columns: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def run_load(path: Path, *, city: str, theme: str, mapping_path: Path | None = None, layer: str | None = None,
             encoding: str | None = None, crs: str | None = None, dry_run: bool = False,
             settings: Settings | None = None, step: Callable[[str], None] = lambda _: None) -> LoadReport:
    """Load one source layer as `theme` for `city`, all or nothing."""
    started = time.perf_counter()
    settings = settings or get_settings()
    sqlfiles.check_city(city)
    registry = config_registry(settings)
    schema = registry.schema(sqlfiles.check_theme(theme))
    mapping, mapping_source = mappings.resolve(registry, city=city, theme=theme, mapping_path=mapping_path)
    options = mapping.source if mapping else None
    step("reading")
    source = read(Path(path), layer=layer or (options and options.layer),
                  encoding=encoding or (options and options.encoding), crs=crs or (options and options.crs))
    if mapping is None:
        mapping = mappings.automatic(source.frame.columns, registry, theme)
    step("repairing geometries")
    repaired = repair(source.frame)
    step("harmonising")
    result = harmonise(repaired.kept, city=city, schema=schema, mapping=mapping, registry=registry)
    rejects = repaired.rejects + result.rejects
    load_id = None
    if not dry_run:
        step("writing to PostGIS")
        detected = {**source.detected, "mapping": mapping_source}
        with open_catalogue(settings) as conn:
            load_id = load(conn, result.frame, rejects, city=city, schema=schema,
                           provenance=Provenance(str(source.path), source.layer, detected))
    reasons: dict[str, int] = {}
    for r in rejects:
        reasons[r["reason"]] = reasons.get(r["reason"], 0) + 1
    return LoadReport(
        load_id=load_id, city=city, theme=theme, source=str(source.path), layer=source.layer,
        mapping=mapping_source, features_read=len(source.frame), features_loaded=len(result.frame),
        features_rejected=len(rejects), geometries_repaired=repaired.repaired, detected=source.detected,
        seconds=round(time.perf_counter() - started, 3), dry_run=dry_run, reject_reasons=reasons,
        unmapped_values=result.unmapped_values, unconverted_values=result.unconverted_values,
        unmapped_columns=result.unmapped_columns)
