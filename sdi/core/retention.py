"""`sdi prune`: drop old versions, never the current one nor one still referenced, and orphan COG files.

A vector version is one partition of history.<theme> (migration 0006). It is dropped in three steps, each
safe to be killed after: (1) its catalogue row goes, in a short transaction that fails on any foreign key
still pointing at it (sdi.layers for the current version, or anyone else's reference); from then on no view
shows its rows; (2) `DETACH PARTITION ... CONCURRENTLY`, which never takes ACCESS EXCLUSIVE on the parent,
so readers on the primary keep answering and hot-standby readers are not cancelled; (3) `DROP TABLE` of the
detached table, which no query of the parent can touch any more. A run killed between steps leaves a
partition without a catalogue row, which the next run finds and finishes.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from sdi.core import sqlfiles
from sdi.core.db import scalar
from sdi.core.errors import ConfigError

logger = logging.getLogger(__name__)

ORPHAN_AGE_S = 3600  # a COG younger than this may belong to a load-raster that is still running


@dataclass
class PruneReport:
    """What `sdi prune` dropped (or would drop, with --dry-run) and what it left."""

    versions: list[dict[str, Any]] = field(default_factory=list)  # load_id, city, theme, bytes, kind
    referenced: list[int] = field(default_factory=list)  # old versions kept because something points at them
    orphan_files: list[dict[str, Any]] = field(default_factory=list)  # path, bytes
    orphan_partitions: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def freed_bytes(self) -> int:
        freed: int = sum(v["bytes"] for v in self.versions) + sum(f["bytes"] for f in self.orphan_files)
        return freed


def prune(
    url: str,
    *,
    keep: int,
    raster_dir: Path,
    city: str | None = None,
    theme: str | None = None,
    dry_run: bool = False,
    orphan_age_s: float = ORPHAN_AGE_S,
) -> PruneReport:
    """Keep the `keep` newest versions of each (city, theme) and the current one; drop the rest."""
    if keep < 1:
        raise ConfigError(f"--keep {keep} would leave no version to roll back to", "give --keep 1 or more")
    report = PruneReport(dry_run=dry_run)
    # autocommit: DETACH ... CONCURRENTLY may not run inside a transaction block
    with psycopg.connect(url, autocommit=True) as conn:
        if scalar(conn.execute("SELECT sdi.current_city()")) is not None:
            raise ConfigError("a city's login may not prune versions", "ask the administrator to run `sdi prune`")
        candidates = conn.execute(sqlfiles.load("prune_candidates.sql"), {"city": city, "theme": theme, "keep": keep})
        for load_id, c, t, raster in candidates.fetchall():
            part = sql.Identifier("history", scalar(conn.execute("SELECT sdi.load_table(%s, %s)", [t, load_id])))
            size = scalar(
                conn.execute("SELECT coalesce(pg_total_relation_size(to_regclass(%s)), 0)", [part.as_string(conn)])
            )
            file = raster_dir / raster if raster else None
            if file is not None and file.is_file():
                size += file.stat().st_size
            if not dry_run and not _forget(conn, load_id, c, t):
                report.referenced.append(load_id)
                continue
            if not dry_run:
                _drop_partition(conn, t, part)
                if file is not None and raster_dir in file.resolve().parents:
                    file.unlink(missing_ok=True)
            report.versions.append(
                {"load_id": load_id, "city": c, "theme": t, "bytes": size, "kind": "raster" if raster else "vector"}
            )
        orphans = conn.execute(sqlfiles.load("orphan_partitions.sql"), {"theme": theme})
        for parent, name, pending, _size in orphans.fetchall():
            report.orphan_partitions.append(name)
            if not dry_run:
                _drop_partition(conn, parent, sql.Identifier("history", name), pending=pending)
        report.orphan_files = _orphan_files(conn, raster_dir, city, theme, orphan_age_s, dry_run)
    logger.info(
        "prune: %d versions, %d orphan files, %d bytes",
        len(report.versions),
        len(report.orphan_files),
        report.freed_bytes,
    )
    return report


def _forget(conn: psycopg.Connection, load_id: int, city: str, theme: str) -> bool:
    """Delete a version's catalogue row (its rejects and raster row go with it); False if still referenced."""
    try:
        with conn.transaction():
            # A load or rollback of this layer waits, so the version cannot become current under our feet.
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('sdi.loader.load'), hashtext(%s))", [f"{city}:{theme}"])
            if conn.execute("SELECT 1 FROM sdi.layers WHERE load_id = %s", [load_id]).fetchone():
                return False
            conn.execute("DELETE FROM sdi.loads WHERE load_id = %s", [load_id])
    except psycopg.errors.ForeignKeyViolation:
        return False
    return True


def _drop_partition(conn: psycopg.Connection, theme: str, part: sql.Identifier, pending: bool = False) -> None:
    parent = sql.Identifier("history", theme)
    attached = scalar(
        conn.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = to_regclass(%s))", [part.as_string(conn)]
        )
    )
    if attached:
        how = sql.SQL("FINALIZE" if pending else "CONCURRENTLY")
        conn.execute(sql.SQL("ALTER TABLE {t} DETACH PARTITION {p} {how}").format(t=parent, p=part, how=how))
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {p}").format(p=part))


def _orphan_files(
    conn: psycopg.Connection, raster_dir: Path, city: str | None, theme: str | None, age_s: float, dry_run: bool
) -> list[dict[str, Any]]:
    """COGs under the raster folder that no catalogue row names, older than `age_s` (a killed load-raster)."""
    if not raster_dir.is_dir():
        return []
    named = {r[0] for r in conn.execute("SELECT path FROM sdi.rasters")}
    found, now = [], time.time()
    for path in sorted(raster_dir.glob("*/*/*")):
        rel = path.relative_to(raster_dir)
        if (
            not path.is_file()
            or path.is_symlink()
            or path.suffix not in (".tif", ".vrt")
            or rel.as_posix() in named
            or (theme and rel.parts[0] != theme)
            or (city and rel.parts[1] != city)
        ):
            continue
        stat = path.stat()
        if now - stat.st_mtime < age_s:
            continue
        found.append({"path": str(path), "bytes": stat.st_size})
        if not dry_run:
            path.unlink(missing_ok=True)
    return found
