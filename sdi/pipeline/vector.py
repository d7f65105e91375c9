"""Vector loads: one source layer as one city's new version (run_load), a version per gmina (run_split), or every
mapped layer of a package (run_package). Each opens the source once (_prepare) and hands the batches to
sdi.pipeline.city_load for each city's guarded version."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sdi.core import sqlfiles
from sdi.core.catalogue import open_catalogue
from sdi.core.config import registry as config_registry
from sdi.core.errors import InputError, SdiError
from sdi.core.settings import Settings, get_settings
from sdi.loader import gminas, sources
from sdi.loader import mapping as mappings
from sdi.loader.guard import LoadRefused
from sdi.loader.read import read
from sdi.loader.report import LoadReport, fingerprint
from sdi.pipeline.city_load import Prepared, publish


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
) -> Prepared:
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
    return Prepared(registry, schema, mapping, mapping_source, source, size, digest, started, started_at)


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
        return publish(
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
                    publish(
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
