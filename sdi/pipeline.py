"""The one place where the stages are chained: read -> repair -> harmonise -> load, for vectors and rasters."""

from __future__ import annotations

import getpass
import hashlib
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from sdi.core import catalogue
from sdi.loader import mapping as mappings
from sdi.core import sqlfiles
from sdi.core.catalogue import Provenance, open_catalogue
from sdi.core.config import registry as config_registry
from sdi.loader.guard import Guard, LoadRefused, current_count
from sdi.loader.harmonise import harmonise
from sdi.loader.load import Loaded, load
from sdi.loader.raster import read_raster
from sdi.loader.raster_store import store_raster
from sdi.loader.read import read
from sdi.loader.repair import repair
from sdi.core.settings import Settings, get_settings

logger = logging.getLogger(__name__)


@dataclass
class LoadReport:
    """What one `sdi load` did; printed after each load and written with --report."""

    load_id: int | None
    city: str
    theme: str
    source: dict
    mapping: str
    encoding: str | None
    encoding_source: str | None
    crs: str | None
    crs_source: str | None
    features_read: int
    features_loaded: int
    features_rejected: int
    geometries_repaired: int
    rejects: list[dict]
    warnings: list[str]
    duration_s: float
    dry_run: bool = False
    reject_reasons: dict[str, int] = field(default_factory=dict)
    unmapped_values: dict[str, dict[str, int]] = field(default_factory=dict)
    unconverted_values: dict[str, dict[str, int]] = field(default_factory=dict)
    unmapped_columns: list[str] = field(default_factory=list)
    repairs: dict[str, int] = field(default_factory=dict)
    guard: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def run_load(path: Path, *, city: str, theme: str, mapping_path: Path | None = None, layer: str | None = None,
             encoding: str | None = None, crs: str | None = None, dry_run: bool = False,
             allow_empty: bool = False, accept_rejects: bool = False, allow_shrink: bool = False,
             settings: Settings | None = None, step: Callable[[str], None] = lambda _: None,
             progress: Callable[[int, int], None] = lambda done, total: None) -> LoadReport:
    """Load one source layer as `theme` for `city`, all or nothing, streaming it batch by batch.

    The load guard (`sdi.loader.guard`) refuses, with LoadRefused, a version that stores nothing, rejects too
    much or shrinks the current one, unless the matching allow_* / accept_rejects flag is given.
    """
    started, started_at = time.perf_counter(), datetime.now(timezone.utc)
    settings = settings or get_settings()
    sqlfiles.check_city(city)
    registry = config_registry(settings)
    schema = registry.schema(sqlfiles.check_theme(theme))
    mapping, mapping_source = mappings.resolve(registry, city=city, theme=theme, mapping_path=mapping_path)
    options = mapping.source if mapping else None
    step("reading")
    source = read(Path(path), layer=layer or (options and options.layer),
                  encoding=encoding or (options and options.encoding), crs=crs or (options and options.crs),
                  max_unzipped_bytes=settings.max_unzipped_mb * 1024 * 1024)
    if mapping is None:
        mapping = mappings.automatic(source.columns, registry, theme)
    tally = _Tally()

    def harmonised():
        """read -> repair -> harmonise, one batch at a time, counting as it goes."""
        for batch in source.batches():
            repaired = repair(batch)
            result = harmonise(repaired.kept, city=city, schema=schema, mapping=mapping, registry=registry)
            rejects = repaired.rejects + result.rejects
            for r in rejects:
                ident = r["properties"].get(mapping.id) if mapping.id else None
                r["source_id"] = str(ident) if ident is not None else str(r["index"])
            tally.add(len(batch), repaired, result)
            yield result.frame, rejects

    size, digest = _fingerprint(source.path)
    guard = Guard(allow_empty=allow_empty, accept_rejects=accept_rejects, allow_shrink=allow_shrink,
                  max_reject_share=settings.max_reject_share)
    step("loading" if not dry_run else "loading (dry run, rolled back at the end)")
    with open_catalogue(settings) as conn:
        provenance = Provenance(str(source.path), source.layer, {**source.detected, "mapping": mapping_source},
                                size, digest, getpass.getuser(), started_at)

        def report(loaded: Loaded, rejects: list[dict]) -> LoadReport:
            return LoadReport(
                load_id=loaded.load_id, city=city, theme=theme,
                source={"path": str(source.path), "sha256": digest, "size": size, "layer": source.layer},
                mapping=mapping_source, encoding=source.detected.get("encoding"),
                encoding_source=source.detected.get("encoding_source"), crs=source.detected.get("crs"),
                crs_source=source.detected.get("crs_source"), features_read=tally.read,
                features_loaded=loaded.features, features_rejected=loaded.rejects,
                geometries_repaired=tally.repaired(), rejects=rejects,
                warnings=source.warnings + tally.warnings(schema) + guard.notes,
                duration_s=round(time.perf_counter() - started, 3), dry_run=dry_run,
                reject_reasons=dict(Counter(r["reason"] for r in rejects)), unmapped_values=tally.unmapped,
                unconverted_values=tally.unconverted, unmapped_columns=tally.unmapped_columns,
                repairs=dict(tally.repairs), guard=guard.as_dict())

        def before_publish(stored: int, rejected: int) -> None:
            """Inside the load's transaction, under its lock: refuse before the version goes live."""
            guard.previous_features = current_count(catalogue.history(conn, city, theme))
            try:
                guard.check(stored, rejected, Counter(r["reason"] for r in tally.rejects), f"{theme} for city {city}")
            except LoadRefused as refused:
                if not dry_run:
                    refused.report = report(Loaded(None, stored, rejected), tally.rejects)
                    raise
                guard.notes.append(f"a real load would be refused: {refused.message}")

        loaded = load(conn, harmonised(), city=city, schema=schema, provenance=provenance, dry_run=dry_run,
                      progress=lambda n: progress(n, source.count), before_publish=before_publish)
        rejects = _stored_rejects(conn, loaded.load_id) if loaded.load_id else tally.rejects
    return report(loaded, rejects)


def run_load_raster(path: Path, *, city: str, theme: str, crs: str | None = None, settings: Settings | None = None,
                    step: Callable[[str], None] = lambda _: None) -> dict:
    """Load a raster (a file, a folder of tiles or a zip) as the city's new version of a raster theme.

    read and check -> mosaic, convert and reproject into a COG -> catalogue: all or nothing.
    Returns the report, whose keys `sdi load-raster --report` writes.
    """
    started, started_at = time.perf_counter(), datetime.now(timezone.utc)
    settings = settings or get_settings()
    sqlfiles.check_city(city)
    schema = config_registry(settings).raster(sqlfiles.check_theme(theme))
    step("reading")
    source = read_raster(Path(path), schema, crs=crs, max_unzipped_bytes=settings.max_unzipped_mb * 1024 * 1024,
                         max_mpix=settings.max_raster_mpix)
    size, digest = _fingerprint(Path(path))
    detected = {"crs": f"EPSG:{source.epsg}", "crs_source": source.crs_source, "tiles": len(source.tiles),
                "dtype": source.dtype, "nodata": source.nodata}
    step("writing the Cloud-Optimized GeoTIFF")
    with open_catalogue(settings) as conn:
        provenance = Provenance(str(Path(path).resolve()), None, detected, size, digest, getpass.getuser(), started_at)
        stored = store_raster(conn, source, schema, city=city, folder=settings.raster_dir_abs, provenance=provenance)
    return {
        "load_id": stored["load_id"], "city": city, "theme": theme,
        "source": {"path": str(path), "sha256": digest, "size": size, "tiles": len(source.tiles)},
        "crs": f"EPSG:{source.epsg}", "crs_source": source.crs_source, "stored_crs": "EPSG:2180",
        "resampling": schema.resampling if source.epsg != 2180 else None,
        "width": stored["width"], "height": stored["height"], "bands": stored["bands"], "dtype": stored["dtype"],
        "nodata": stored["nodata"], "resolution_m": stored["resolution"], "bounds": stored["bounds"],
        "value_range": stored["range"],
        "cog": {"path": stored["path"], "bytes": stored["bytes"], "overviews": stored["overviews"], "valid": True},
        "warnings": source.warnings, "duration_s": round(time.perf_counter() - started, 3),
    }


class _Tally:
    """Counts gathered over the batches of one load."""

    def __init__(self):
        self.read = 0
        self.stored = 0
        self.repairs: Counter = Counter()
        self.unmapped: dict[str, dict[str, int]] = {}
        self.unconverted: dict[str, dict[str, int]] = {}
        self.unmapped_columns: list[str] = []
        self.defaulted: dict = {}
        self.rejects: list[dict] = []

    def add(self, read: int, repaired, result) -> None:
        self.read += read
        self.stored += len(result.frame)
        self.repairs.update(repaired.repairs)
        if result.promoted:
            self.repairs["promoted_to_multi"] += result.promoted
        for mine, theirs in ((self.unmapped, result.unmapped_values), (self.unconverted, result.unconverted_values)):
            for name, values in theirs.items():
                bucket = mine.setdefault(name, {})
                for value, n in values.items():
                    bucket[value] = bucket.get(value, 0) + n
        self.unmapped_columns = result.unmapped_columns
        self.defaulted.update(result.defaulted)
        self.rejects += [{"source_id": r["source_id"], "reason": r["reason"]}
                         for r in repaired.rejects + result.rejects]

    def repaired(self) -> int:
        """Geometries changed to be storable; a promotion to Multi* only changes the type, so it is apart."""
        return sum(n for kind, n in self.repairs.items() if kind != "promoted_to_multi")

    def warnings(self, schema) -> list[str]:
        """What happened to each value that did not map or convert, as it really happened."""
        notes = []
        for verb, found in (("map", self.unmapped), ("convert", self.unconverted)):
            for name, values in found.items():
                notes.append(f"{name}: {sum(values.values())} value(s) did not {verb}"
                             f" ({_listed(values)}); {self.fate(name, schema)}")
        return notes

    def fate(self, name: str, schema) -> str:
        """Where the values of a field that did not map or convert went."""
        if name in self.defaulted:
            return f"stored as {self.defaulted[name]!r}, the mapping's default"
        if schema.fields[name].required:
            return "their features were rejected (the field is required)"
        return "stored as null"


def _listed(values: dict[str, int]) -> str:
    top = sorted(values.items(), key=lambda kv: -kv[1])
    return ", ".join(f"{v!r} ×{n}" for v, n in top[:5]) + (", ..." if len(top) > 5 else "")


def _stored_rejects(conn, load_id: int) -> list[dict]:
    rows = conn.execute("SELECT source_id, reason FROM sdi.rejects WHERE load_id = %s ORDER BY source_index",
                        [load_id]).fetchall()
    return [{"source_id": sid, "reason": reason} for sid, reason in rows]


def _fingerprint(path: Path) -> tuple[int | None, str | None]:
    """Size and SHA-256 of the source file, for provenance (None for a folder such as a FileGDB)."""
    if not path.is_file():
        return None, None
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return path.stat().st_size, digest.hexdigest()
