"""The standards of art. 13f of the planning act (Dz.U. 2023 poz. 1688), their defaults, and a gmina's own.

A run's parameters are checked here once, whoever sent them (the CLI or a process request): every value a
number in a sane range, every optional kind one the data can answer. Nothing a caller wrote reaches SQL
unchecked.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from sdi.core import sqlfiles
from sdi.core.errors import ConfigError

#: Optional kinds a gmina may add, with a default distance (m): public_services types and transport stops.
OPTIONAL_KINDS: dict[str, float] = {
    "kindergarten": 1000.0,
    "nursery": 1000.0,
    "library": 1500.0,
    "clinic": 1500.0,
    "stop": 500.0,
}
#: How a parcel is told to lie in a town: from administrative_units, or every parcel one way.
TOWN_MODES = ("auto", "town", "rural")
#: The units of analysis: the law's registered parcel, and as further views address points and residential
#: buildings (sdi.analysis.units says where each comes from).
UNITS = ("parcels", "addresses", "buildings")
_LIMITS = {
    "school_town_m": (1, 20_000),
    "school_rural_m": (1, 20_000),
    "green_sum_m": (1, 20_000),
    "green_sum_ha": (0, 10_000),
    "green_big_m": (1, 20_000),
    "green_big_ha": (0, 10_000),
    "snap_m": (0, 50),
    "max_access_m": (1, 5_000),
}


@dataclass
class Standards:
    """One run's thresholds; the defaults are the article's."""

    city: str
    school_town_m: float = 1500.0  # ust. 2 pkt 1: towns
    school_rural_m: float = 3000.0  # ust. 2 pkt 1: outside towns
    green_sum_m: float = 1500.0  # ust. 2 pkt 2: public green of combined area ...
    green_sum_ha: float = 3.0  # ... at least 3 ha
    green_big_m: float = 3000.0  # ust. 2 pkt 2: one public green area ...
    green_big_ha: float = 20.0  # ... of at least 20 ha
    optional: dict[str, float] = field(default_factory=dict)  # the gmina's own: kind -> distance (m)
    town: str = "auto"
    snap_m: float = 5.0  # dangling street ends closer than this to another line are joined
    max_access_m: float = 500.0  # a parcel farther than this from any street is "no street"
    units: str = "parcels"  # the unit of analysis: one of UNITS
    planned: bool = False  # ust. 4: add the road zones of land_use_plans to the network (a what-if)

    def as_dict(self) -> dict[str, Any]:
        """The parameters as stored with the run and returned by the process API."""
        return asdict(self)

    @property
    def margin_m(self) -> float:
        """How far beyond the city's parcels the network reaches: the longest distance measured, and more."""
        return max(self.school_town_m, self.school_rural_m, self.green_big_m, *self.optional.values()) + 500


def parse(values: Any) -> Standards:
    """Standards from a CLI's or a request's values; one ConfigError naming the first bad one."""
    if not isinstance(values, dict):
        raise ConfigError("the inputs must be a JSON object", 'send {"inputs": {"city": "2699011"}}')
    known = set(Standards.__dataclass_fields__)
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown input {unknown[0]!r}", f"use one of {', '.join(sorted(known))}")
    city = sqlfiles.check_city(values.get("city"))
    numbers = {k: _number(k, values[k]) for k in _LIMITS if values.get(k) is not None}
    town = _choice("town", values.get("town") or "auto", TOWN_MODES)
    units = _choice("units", values.get("units") or "parcels", UNITS)
    planned = values.get("planned") or False
    if not isinstance(planned, bool):
        raise ConfigError(f"planned must be true or false, not {str(planned)[:40]!r}", 'e.g. "planned": true')
    return Standards(
        city=city, **numbers, town=town, units=units, planned=planned, optional=_optional(values.get("optional") or {})
    )


def _choice(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ConfigError(f"invalid {name} {str(value)[:40]!r}", f"use one of {', '.join(allowed)}")
    return str(value)


def parse_kinds(text: str | None) -> dict[str, float]:
    """'kindergarten=800,stop' -> {'kindergarten': 800.0, 'stop': 500.0} (a kind alone takes its default)."""
    found: dict[str, Any] = {}
    for item in filter(None, (t.strip() for t in (text or "").split(","))):
        kind, _, dist = item.partition("=")
        found[kind.strip()] = dist.strip() or None
    return _optional(found)


def _optional(values: Any) -> dict[str, float]:
    if not isinstance(values, dict):
        raise ConfigError("optional must map kinds to distances", 'e.g. {"kindergarten": 800}')
    out = {}
    for kind, dist in values.items():
        if kind not in OPTIONAL_KINDS:
            raise ConfigError(f"unknown optional kind {str(kind)[:40]!r}", f"use one of {', '.join(OPTIONAL_KINDS)}")
        out[kind] = OPTIONAL_KINDS[kind] if dist is None else _number(kind, dist, (1, 20_000))
    return out


def _number(name: str, value: Any, bounds: tuple[float, float] | None = None) -> float:
    low, high = bounds or _LIMITS[name]
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, not {str(value)[:40]!r}", f"e.g. {name}={high / 10:g}") from None
    if not low <= number <= high:  # also refuses nan and inf
        raise ConfigError(f"{name} = {number:g} is out of range", f"give a value from {low:g} to {high:g}")
    return number
