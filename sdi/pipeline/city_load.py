"""One city's new version of a theme: repair -> scope -> harmonise -> load, batch by batch, under the load guard
(sdi.loader.guard), and the report of what it did. sdi.pipeline.vector opens the source and calls publish() once
per city."""

from __future__ import annotations

import getpass
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sdi.core import catalogue
from sdi.core.catalogue import Provenance
from sdi.core.config import Mapping, Registry, Schema
from sdi.core.settings import Settings
from sdi.loader import gminas
from sdi.loader.guard import Guard, LoadRefused, current_count
from sdi.loader.harmonise import harmonise
from sdi.loader.load import Loaded, load
from sdi.loader.read import Source
from sdi.loader.rejects import reject_record
from sdi.loader.repair import repair
from sdi.loader.report import LoadReport, stored_rejects
from sdi.loader.tally import Tally


@dataclass
class Prepared:
    """What every load of one source shares: schema, mapping, the opened source and its fingerprint."""

    registry: Registry
    schema: Schema
    mapping: Mapping
    mapping_source: str
    source: Source
    size: int | None
    digest: str | None
    started: float
    started_at: datetime


def publish(
    conn,
    prepared: Prepared,
    city: str,
    batches,
    scope: gminas.Scope,
    *,
    dry_run: bool,
    allow_empty: bool,
    accept_rejects: bool,
    allow_shrink: bool,
    settings: Settings,
    step: Callable[[str], None],
    progress: Callable[[int, int], None],
    wide: bool = False,
) -> LoadReport:
    """repair -> scope -> harmonise -> load for one city, under the guard; the report of what it did."""
    p, source, schema, mapping, theme = prepared, prepared.source, prepared.schema, prepared.mapping, prepared.schema.id
    tally = Tally()

    def harmonised():
        """read -> repair -> harmonise, one batch at a time, counting as it goes."""
        for batch in batches:
            repaired = repair(batch)
            repaired.kept, nowhere = scope.apply(repaired.kept)
            if scope.mode == "split" and not scope.home:  # a broken geometry is reported once, by the --city
                repaired.rejects = []
            if nowhere is not None and len(nowhere):
                repaired.rejects = repaired.rejects + [
                    reject_record(nowhere, i, "outside every loaded gmina boundary") for i in range(len(nowhere))
                ]
            result = harmonise(repaired.kept, city=city, schema=schema, mapping=mapping, registry=p.registry)
            rejects = repaired.rejects + result.rejects
            for r in rejects:
                ident = r["properties"].get(mapping.id) if mapping.id else None
                r["source_id"] = str(ident) if ident is not None else str(r["index"])
            split = scope.mode == "split"  # a split's load reads only its gmina's features
            tally.add(len(repaired.kept) + len(repaired.rejects) if split else len(batch), repaired, result)
            yield result.frame, rejects

    guard = Guard(
        allow_empty=allow_empty,
        accept_rejects=accept_rejects,
        allow_shrink=allow_shrink,
        max_reject_share=settings.max_reject_share,
    )
    step("loading" if not dry_run else "loading (dry run, rolled back at the end)")
    provenance = Provenance(
        str(source.path),
        source.layer,
        {**source.detected, "mapping": p.mapping_source},
        p.size,
        p.digest,
        getpass.getuser(),
        p.started_at,
    )

    def report(loaded: Loaded, rejects: list[dict]) -> LoadReport:
        return LoadReport(
            load_id=loaded.load_id,
            city=city,
            theme=theme,
            source={"path": str(source.path), "sha256": p.digest, "size": p.size, "layer": source.layer},
            mapping=p.mapping_source,
            encoding=source.detected.get("encoding"),
            encoding_source=source.detected.get("encoding_source"),
            crs=source.detected.get("crs"),
            crs_source=source.detected.get("crs_source"),
            features_read=tally.read,
            features_loaded=loaded.features,
            features_rejected=loaded.rejects,
            geometries_repaired=tally.repaired(),
            rejects=rejects,
            warnings=source.warnings
            + tally.warnings(schema)
            + scope.notes(tally.read, _wide(source, theme, wide))
            + guard.notes,
            duration_s=round(time.perf_counter() - p.started, 3),
            dry_run=dry_run,
            reject_reasons=dict(Counter(r["reason"] for r in rejects)),
            unmapped_values=tally.unmapped,
            unconverted_values=tally.unconverted,
            unmapped_columns=tally.unmapped_columns,
            repairs=dict(tally.repairs),
            guard=guard.as_dict(),
            outside_city=scope.as_dict(),
        )

    def before_publish(stored: int, rejected: int) -> None:
        """Inside the load's transaction, under its lock: refuse before the version goes live."""
        guard.previous_features = current_count(catalogue.history(conn, city, theme))
        try:
            guard.check(stored, rejected, Counter(r["reason"] for r in tally.rejects), f"{theme} for city {city}")
        except LoadRefused as refused:
            if not dry_run:
                # our own begun load: the layer's lock is held, so the newest load of (city, theme) is this one
                refused.load_id = conn.execute(
                    "SELECT max(load_id) FROM sdi.loads WHERE city = %s AND theme = %s", [city, theme]
                ).fetchone()[0]
                refused.report = report(Loaded(None, stored, rejected), tally.rejects)
                raise
            guard.notes.append(f"a real load would be refused: {refused.message}")

    try:
        loaded = load(
            conn,
            harmonised(),
            city=city,
            schema=schema,
            provenance=provenance,
            dry_run=dry_run,
            progress=lambda n: progress(n, source.count),
            before_publish=before_publish,
        )
    except LoadRefused as refused:
        conn.commit()  # the kept, non-current version: leaving `with conn` on an exception would roll it back
        _kept_refused(conn, refused, city, theme)
        raise
    rejects = stored_rejects(conn, loaded.load_id) if loaded.load_id else tally.rejects
    return report(loaded, rejects)


def _wide(source, theme: str, wide: bool) -> bool:
    """A source that likely covers several gminas (a package, a GTFS feed), unless it is the gminas' outlines."""
    likely = wide or str(source.path).lower().endswith(".zip") or source.detected.get("crs_source") == "gtfs"
    return likely and theme != "administrative_units"


def _kept_refused(conn, refused: LoadRefused, city: str, theme: str) -> None:
    """When the refused version was kept (non-current, with its rejects), say its id and how to look at it."""
    load_id = getattr(refused, "load_id", None)
    kept = (
        load_id is not None
        and conn.execute("SELECT 1 FROM sdi.loads WHERE load_id = %s", [load_id]).fetchone() is not None
    )
    refused.load_id = load_id if kept else None
    if refused.report is not None:
        refused.report.guard["load_id"] = refused.load_id
        refused.report.load_id = refused.load_id
        if kept and load_id is not None:
            refused.report.rejects = stored_rejects(conn, load_id)
    if kept:
        refused.message += f" (kept as load {load_id}, not current)"
        refused.fix = (
            f"see why with `sdi rejects --city {city} --theme {theme} --load {load_id}`; "
            + (refused.fix or "").split("; ", 1)[-1]
        )
