"""The one place where the stages are chained: read -> repair -> harmonise -> load, for vectors and rasters."""

from __future__ import annotations

import getpass
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sdi.core import catalogue, sqlfiles
from sdi.core.catalogue import Provenance, open_catalogue
from sdi.core.config import Mapping, Registry, Schema
from sdi.core.config import registry as config_registry
from sdi.core.errors import InputError, SdiError
from sdi.core.settings import Settings, get_settings
from sdi.loader import gminas, sources
from sdi.loader import mapping as mappings
from sdi.loader.guard import Guard, LoadRefused, current_count
from sdi.loader.harmonise import harmonise
from sdi.loader.load import Loaded, load
from sdi.loader.read import Source, read
from sdi.loader.rejects import reject_record
from sdi.loader.repair import repair
from sdi.loader.report import LoadReport, fingerprint, stored_rejects
from sdi.loader.tally import Tally

logger = logging.getLogger(__name__)

__all__ = ["LoadReport", "run_load", "run_load_raster", "run_package", "run_split"]


@dataclass
class _Prepared:
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


def _prepare(
    path: Path,
    *,
    city: str,
    theme: str,
    mapping_path: Path | None,
    layer: str | None,
    encoding: str | None,
    crs: str | None,
    settings: Settings,
    step: Callable[[str], None],
) -> _Prepared:
    started, started_at = time.perf_counter(), datetime.now(UTC)
    sqlfiles.check_city(city)
    registry = config_registry(settings)
    schema = registry.schema(sqlfiles.check_theme(theme))
    mapping, mapping_source = mappings.resolve(registry, city=city, theme=theme, mapping_path=mapping_path)
    options = mapping.source if mapping else None
    step("reading")
    source = read(
        Path(path),
        layer=layer or (options.layer if options else None),
        encoding=encoding or (options.encoding if options else None),
        crs=crs or (options.crs if options else None),
        max_unzipped_bytes=settings.max_unzipped_mb * 1024 * 1024,
    )
    if mapping is None:
        mapping = mappings.automatic(source.columns, registry, theme)
    size, digest = fingerprint(source.path)
    return _Prepared(registry, schema, mapping, mapping_source, source, size, digest, started, started_at)


def run_load(
    path: Path,
    *,
    city: str,
    theme: str,
    mapping_path: Path | None = None,
    layer: str | None = None,
    encoding: str | None = None,
    crs: str | None = None,
    dry_run: bool = False,
    allow_empty: bool = False,
    accept_rejects: bool = False,
    allow_shrink: bool = False,
    clip_to_city: bool = False,
    wide: bool = False,
    settings: Settings | None = None,
    step: Callable[[str], None] = lambda _: None,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> LoadReport:
    """Load one source layer as `theme` for `city`, all or nothing, streaming it batch by batch.

    The load guard (`sdi.loader.guard`) refuses, with LoadRefused, a version that stores nothing, rejects too
    much or shrinks the current one, unless the matching allow_* / accept_rejects flag is given. Where gmina
    boundaries are loaded, the features outside the city are counted (`clip_to_city` leaves them out);
    `wide` says the source may cover several gminas (a package, a transit feed), so missing boundaries are
    worth a warning.
    """
    settings = settings or get_settings()
    prepared = _prepare(
        path,
        city=city,
        theme=theme,
        mapping_path=mapping_path,
        layer=layer,
        encoding=encoding,
        crs=crs,
        settings=settings,
        step=step,
    )
    flags = {
        "dry_run": dry_run,
        "allow_empty": allow_empty,
        "accept_rejects": accept_rejects,
        "allow_shrink": allow_shrink,
    }
    with open_catalogue(settings) as conn:
        # the outlines themselves are reference data of many gminas: nothing in them lies "outside"
        bounds = gminas.boundaries(conn, only=city) if theme != "administrative_units" else None
        if clip_to_city and not bounds:
            raise InputError(
                f"--clip-to-city needs the boundary of gmina {city}, and it is not loaded",
                gminas.HOW_TO_LOAD.format(city=city),
            )
        scope = gminas.Scope(city, bounds, "clip" if clip_to_city else "count")
        return _publish(
            conn,
            prepared,
            city,
            prepared.source.batches(),
            scope,
            wide=wide,
            settings=settings,
            step=step,
            progress=progress,
            **flags,
        )


def run_split(
    path: Path,
    *,
    city: str,
    theme: str,
    mapping_path: Path | None = None,
    layer: str | None = None,
    encoding: str | None = None,
    crs: str | None = None,
    dry_run: bool = False,
    allow_empty: bool = False,
    accept_rejects: bool = False,
    allow_shrink: bool = False,
    settings: Settings | None = None,
    step: Callable[[str], None] = lambda _: None,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> tuple[list[LoadReport], list[LoadRefused]]:
    """Load each gmina's features of a source as that gmina's own version (`--split-by-gmina`).

    The source is read once and kept in memory; each gmina with features is one load, each guarded on its
    own. Features outside every loaded gmina are rejected in `city`'s load. Returns the reports and refusals.
    """
    settings = settings or get_settings()
    prepared = _prepare(
        path,
        city=city,
        theme=theme,
        mapping_path=mapping_path,
        layer=layer,
        encoding=encoding,
        crs=crs,
        settings=settings,
        step=step,
    )
    flags = {
        "dry_run": dry_run,
        "allow_empty": allow_empty,
        "accept_rejects": accept_rejects,
        "allow_shrink": allow_shrink,
    }
    batches = list(prepared.source.batches())
    reports, refusals = [], []
    with open_catalogue(settings) as conn:
        bounds = gminas.boundaries(conn)
        if not bounds:
            raise InputError(
                "--split-by-gmina needs the gmina boundaries, and none are loaded", gminas.HOW_TO_LOAD.format(city=city)
            )
        found = {code for batch in batches if len(batch) for code in gminas.Scope(city, bounds).place(batch)}
        for code in sorted(c for c in found | {city} if c is not None):
            scope = gminas.Scope(code, bounds, "split", home=code == city)
            try:
                reports.append(
                    _publish(
                        conn,
                        prepared,
                        code,
                        iter(batches),
                        scope,
                        settings=settings,
                        step=step,
                        progress=progress,
                        **flags,
                    )
                )
            except LoadRefused as refused:
                refusals.append(refused)
    return reports, refusals


@dataclass
class PackageResult:
    """What `sdi load PACKAGE --all` did: one report per loaded layer, the refused and failed ones, the unmapped."""

    reports: list[LoadReport]
    refusals: list[LoadRefused]
    failed: list[tuple[str, SdiError]]
    unmapped: list[str]


def run_package(
    path: Path, *, city: str, split_by_gmina: bool = False, settings: Settings | None = None, **options
) -> PackageResult:
    """Load every layer of a package (a BDOT10k county zip) that a shipped mapping names, each its own version.

    A layer without a mapping is listed, never guessed; two layers for one theme are refused before anything
    is loaded, since the second would replace the first. `options` go to run_load / run_split per layer.
    """
    settings = settings or get_settings()
    clip = options.pop("clip_to_city", False)
    registry = config_registry(settings)
    known = mappings.by_layer(registry, city)
    names = [lay.name for lay in sources.layers(Path(path))]
    plan = {name: known[name] for name in names if name in known}
    themes = Counter(mappings.read_mapping(m, registry).theme for m in plan.values())
    if not plan:
        raise InputError(
            f"{Path(path).name}: no layer has a shipped mapping ({', '.join(names) or 'no layers'})",
            "load a layer with --layer NAME --theme THEME [--mapping FILE] instead of --all",
        )
    if twice := [t for t, n in themes.items() if n > 1]:
        raise InputError(
            f"{Path(path).name}: several layers map to theme {twice[0]}, and each would replace the other",
            "load them one by one with --layer, or merge them first",
        )
    result = PackageResult([], [], [], [n for n in names if n not in plan])
    planned = [(name, m, mappings.read_mapping(m, registry).theme) for name, m in plan.items()]
    # The gmina outlines first (as they are, never split or clipped): the other layers are then placed in them.
    for name, mapping_path, theme in sorted(planned, key=lambda p: p[2] != "administrative_units"):
        args = dict(city=city, theme=theme, mapping_path=mapping_path, layer=name, settings=settings, **options)
        boundaries = theme == "administrative_units"
        try:
            if split_by_gmina and not boundaries:
                reports, refusals = run_split(path, **args)
                result.reports += reports
                result.refusals += refusals
            else:
                result.reports.append(run_load(path, wide=True, clip_to_city=clip and not boundaries, **args))
        except LoadRefused as refused:
            result.refusals.append(refused)
        except SdiError as exc:  # one broken layer does not stop the others; each is its own version
            result.failed.append((name, exc))
    return result


def _publish(
    conn,
    prepared: _Prepared,
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


def run_load_raster(
    path: Path,
    *,
    city: str,
    theme: str,
    crs: str | None = None,
    settings: Settings | None = None,
    step: Callable[[str], None] = lambda _: None,
) -> dict:
    """Load a raster (a file, a folder of tiles or a zip) as the city's new version of a raster theme.

    read and check -> mosaic, convert and reproject into a COG -> catalogue: all or nothing.
    Returns the report, whose keys `sdi load-raster --report` writes.
    """
    # imported here: rasterio is not needed by vector loads, and its import is a noticeable part of theirs
    from sdi.loader.raster import read_raster
    from sdi.loader.raster_store import store_raster

    started, started_at = time.perf_counter(), datetime.now(UTC)
    settings = settings or get_settings()
    sqlfiles.check_city(city)
    schema = config_registry(settings).raster(sqlfiles.check_theme(theme))
    step("reading")
    source = read_raster(
        Path(path),
        schema,
        crs=crs,
        max_unzipped_bytes=settings.max_unzipped_mb * 1024 * 1024,
        max_mpix=settings.max_raster_mpix,
    )
    size, digest = fingerprint(Path(path))
    detected = {
        "crs": f"EPSG:{source.epsg}",
        "crs_source": source.crs_source,
        "tiles": len(source.tiles),
        "dtype": source.dtype,
        "nodata": source.nodata,
    }
    step("writing the Cloud-Optimized GeoTIFF")
    with open_catalogue(settings) as conn:
        provenance = Provenance(str(Path(path).resolve()), None, detected, size, digest, getpass.getuser(), started_at)
        stored = store_raster(conn, source, schema, city=city, folder=settings.raster_dir_abs, provenance=provenance)
    return {
        "load_id": stored["load_id"],
        "city": city,
        "theme": theme,
        "source": {"path": str(path), "sha256": digest, "size": size, "tiles": len(source.tiles)},
        "crs": f"EPSG:{source.epsg}",
        "crs_source": source.crs_source,
        "stored_crs": "EPSG:2180",
        "resampling": schema.resampling if source.epsg != 2180 else None,
        "width": stored["width"],
        "height": stored["height"],
        "bands": stored["bands"],
        "dtype": stored["dtype"],
        "nodata": stored["nodata"],
        "resolution_m": stored["resolution"],
        "bounds": stored["bounds"],
        "value_range": stored["range"],
        "cog": {"path": stored["path"], "bytes": stored["bytes"], "overviews": stored["overviews"], "valid": True},
        "warnings": source.warnings,
        "duration_s": round(time.perf_counter() - started, 3),
    }
