"""The report of one vector load: what `sdi load` prints and writes with --report."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path


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
    outside_city: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def stored_rejects(conn, load_id: int) -> list[dict]:
    """The rejects stored for a load, in source order."""
    rows = conn.execute(
        "SELECT source_id, reason FROM sdi.rejects WHERE load_id = %s ORDER BY source_index", [load_id]
    ).fetchall()
    return [{"source_id": sid, "reason": reason} for sid, reason in rows]


def fingerprint(path: Path) -> tuple[int | None, str | None]:
    """Size and SHA-256 of the source file, for provenance (None for a folder such as a FileGDB)."""
    if not path.is_file():
        return None, None
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return path.stat().st_size, digest.hexdigest()
