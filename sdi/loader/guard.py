"""The load guard: a load that would lose a city's published features without the user's word never goes live.

Three cases are refused unless the user says otherwise: a load that stores nothing (`--allow-empty`),
one that rejects more than SDI_MAX_REJECT_SHARE of what it read (`--accept-rejects`), and one that
shrinks the city's current version by more than half (`--allow-shrink`). The check runs inside the
load's transaction, after the last row is written and before the version is made current, so a
refusal rolls everything back and the previous version stays current.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sdi.core.errors import LoadError

if TYPE_CHECKING:  # a type only: the report module needs nothing from here
    from sdi.loader.report import LoadReport

logger = logging.getLogger(__name__)

SHRINK_LIMIT = 0.5  # a new version with less than half the features of the current one is suspicious


class LoadRefused(LoadError):
    """The guard refused to make a load current; carries the report of what would have been stored."""

    report: LoadReport | None = None
    load_id: int | None = None  # the refused version when it was kept (not current), set by sdi.pipeline


@dataclass
class Guard:
    """What the user allowed, and what the guard found; `as_dict` goes into the load report."""

    allow_empty: bool = False
    accept_rejects: bool = False
    allow_shrink: bool = False
    max_reject_share: float = 0.05
    previous_features: int | None = None
    reject_share: float | None = None
    refused: str | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "allow_empty": self.allow_empty,
            "accept_rejects": self.accept_rejects,
            "allow_shrink": self.allow_shrink,
            "max_reject_share": self.max_reject_share,
            "previous_features": self.previous_features,
            "reject_share": self.reject_share,
            "refused": self.refused,
        }

    def check(self, stored: int, rejected: int, reasons: Counter[str], where: str) -> None:
        """Raise LoadRefused when the counts need a flag the user did not give; `where` names city and theme."""
        read = stored + rejected
        self.reject_share = round(rejected / read, 4) if read else 0.0
        top = f" (mostly: {reasons.most_common(1)[0][0]})" if reasons else ""
        look = "rerun with --dry-run --report r.json to see every reject with its reason"
        if stored == 0 and not self.allow_empty:
            what = f"all {rejected} features were rejected{top}" if rejected else "the source holds no features"
            self._refuse(
                f"{where}: the load would store no feature ({what}); the current version stays",
                f"{look}; give --allow-empty to publish an empty version on purpose",
            )
        if stored and rejected and self.reject_share > self.max_reject_share and not self.accept_rejects:
            self._refuse(
                f"{where}: {rejected} of {read} features ({self.reject_share:.0%}) were rejected{top},"
                f" over the limit of {self.max_reject_share:.0%}; the current version stays",
                f"{look}; give --accept-rejects to publish the rest anyway (or raise SDI_MAX_REJECT_SHARE)",
            )
        prev = self.previous_features
        if prev and stored < prev * SHRINK_LIMIT and not self.allow_shrink and not (stored == 0 and self.allow_empty):
            self._refuse(
                f"{where}: the load would shrink the current version from {prev} to {stored} features;"
                " the current version stays",
                "check that this is the right file and theme; give --allow-shrink if it is",
            )
        if rejected and self.accept_rejects:
            self.notes.append(f"{rejected} rejected feature(s) accepted with --accept-rejects")

    def _refuse(self, message: str, fix: str) -> None:
        self.refused = message
        logger.info("load refused: %s", message)
        raise LoadRefused(message, fix)


def current_count(history: list[dict[str, Any]]) -> int | None:
    """The feature count of the current version among a theme's versions, or None when none is current."""
    return next((int(r["feature_count"]) for r in history if r.get("current")), None)
