"""Counts gathered over the batches of one load, and the warnings that tell what happened to each value."""

from __future__ import annotations

from collections import Counter


class Tally:
    """Counts gathered over the batches of one load."""

    def __init__(self) -> None:
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
        self.rejects += [
            {"source_id": r["source_id"], "reason": r["reason"]} for r in repaired.rejects + result.rejects
        ]

    def repaired(self) -> int:
        """Geometries changed to be storable; a promotion to Multi* only changes the type, so it is apart."""
        return sum(n for kind, n in self.repairs.items() if kind != "promoted_to_multi")

    def warnings(self, schema) -> list[str]:
        """What happened to each value that did not map or convert, as it really happened."""
        notes = []
        for verb, found in (("map", self.unmapped), ("convert", self.unconverted)):
            for name, values in found.items():
                notes.append(
                    f"{name}: {sum(values.values())} value(s) did not {verb}"
                    f" ({_listed(values)}); {self.fate(name, schema)}"
                )
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
