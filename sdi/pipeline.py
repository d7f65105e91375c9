"""The one place where the stages are chained: read -> repair -> harmonise -> load."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from sdi import sqlfiles
from sdi.catalogue import open_catalogue
from sdi.harmonise import harmonise
from sdi.load import Provenance, load
from sdi.read import read
from sdi.repair import repair
from sdi.settings import Settings

logger = logging.getLogger(__name__)


@dataclass
class LoadReport:
    """What one `sdi load` did; printed after each load and written with --report."""

    load_id: int | None
    city: str
    theme: str
    source: str
    layer: str
    features_read: int
    features_loaded: int
    features_rejected: int
    geometries_repaired: int
    detected: dict
    seconds: float
    dry_run: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


def run_load(path: Path, *, city: str, theme: str, layer: str | None = None, encoding: str | None = None,
             crs: str | None = None, dry_run: bool = False, settings: Settings | None = None,
             step: Callable[[str], None] = lambda _: None) -> LoadReport:
    """Load one source layer as `theme` for `city`, all or nothing."""
    started = time.perf_counter()
    sqlfiles.check_city(city)
    sqlfiles.check_theme(theme)
    step("reading")
    source = read(Path(path), layer=layer, encoding=encoding, crs=crs)
    step("repairing geometries")
    repaired = repair(source.frame)
    step("harmonising")
    frame = harmonise(repaired.kept, city)
    load_id = None
    if not dry_run:
        step("writing to PostGIS")
        with open_catalogue(settings) as conn:
            provenance = Provenance(str(source.path), source.layer, source.detected)
            load_id = load(conn, frame, repaired.rejects, city=city, theme=theme, provenance=provenance)
    return LoadReport(
        load_id=load_id, city=city, theme=theme, source=str(source.path), layer=source.layer,
        features_read=len(source.frame), features_loaded=len(frame), features_rejected=len(repaired.rejects),
        geometries_repaired=repaired.repaired, detected=source.detected,
        seconds=round(time.perf_counter() - started, 3), dry_run=dry_run)
