"""TERYT (TERC) codes as files write them: 1465011, PRG's 146501_1, with spaces, or a precinct's 306401_1.0001.

A gmina's code is six digits (voivodeship, county, gmina) and a type digit:
1 urban, 2 rural, 3 urban-rural gmina; 4 the town and 5 the rural area of an urban-rural gmina (whose
own code ends in 3); 8 a district of Warsaw and 9 a delegatura of another large city (they belong to
the city's code). PRG writes cadastral units as `DDDDDD_T` and precincts as `DDDDDD_T.NNNN`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

# [0-9], never \d: \d also matches Arabic-Indic and other Unicode digits, which int() then accepts.
_SEVEN = re.compile(r"([0-9]{6})[_ ]?([1-589])")
_PRECINCT = re.compile(r"([0-9]{6})[_ ]?([1-589])\.([0-9]{1,4})")
#: type digits and what they mean, for messages
KINDS = {
    "1": "urban gmina",
    "2": "rural gmina",
    "3": "urban-rural gmina",
    "4": "town of an urban-rural gmina",
    "5": "rural area of an urban-rural gmina",
    "8": "district of Warsaw",
    "9": "delegatura of a city",
}


class NotTeryt(ValueError):
    """A value that cannot be a TERYT code; the message says why."""


def normalise(value: object) -> str:
    """The 7-digit code of a unit (or `DDDDDDT.NNNN` of a precinct); NotTeryt when it cannot be one."""
    text = str(value).strip()
    if m := _SEVEN.fullmatch(text):
        return _checked(m.group(1), m.group(2))
    if m := _PRECINCT.fullmatch(text):
        return f"{_checked(m.group(1), m.group(2))}.{int(m.group(3)):04d}"
    if re.fullmatch(r"[0-9]{2}|[0-9]{4}|0", text):  # a voivodeship, a county, or the country
        return text
    if re.fullmatch(r"[0-9]{6}", text):
        raise NotTeryt(f"{text!r} has no type digit (the 7th: 1 urban, 2 rural, 3 urban-rural...)")
    raise NotTeryt(f"{text!r} is not a TERYT code (7 digits such as 1465011, or PRG's 146501_1)")


def _checked(six: str, kind: str) -> str:
    if six[:2] == "00" or int(six[:2]) % 2 or int(six[:2]) > 32:
        raise NotTeryt(f"{six}{kind}: {six[:2]} is no voivodeship (02, 04, ... 32)")
    return six + kind


def looks_like(values: list[Any]) -> bool:
    """True when most non-empty values read as gmina, cadastral unit or precinct codes (for draft mappings)."""
    texts = [str(v).strip() for v in values if v is not None and str(v).strip()]
    if not texts:
        return False
    return sum(_is_unit(t) for t in texts) >= 0.9 * len(texts)


def _is_unit(text: str) -> bool:
    try:
        return len(normalise(text)) >= 7
    except NotTeryt:
        return False


#: the country's code as a city (PRG's national outline is loaded under it)
COUNTRY = "0000000"


def city(value: object, resolve: Callable[[str], list[str]] | None = None) -> str:
    """The one rule for a city given at an edge: a gmina's or district's 7-digit code, PRG's `DDDDDD_T` included.

    A 6-digit code has no type digit, so it is accepted only when `resolve(six)` (the loaded administrative
    units) names exactly one gmina or district for it; otherwise NotTeryt says why and `FIX` says how.
    """
    # Spaces around a typed code are forgiven; a newline or other control character is not: "2699011\n" in a
    # URL or a script is a mistake or an attack, never a gmina (issue 16).
    text = str(value).strip(" ")
    if any(not ch.isprintable() for ch in text):
        raise NotTeryt(f"{text!r} holds a control character (a newline?)")
    if text == COUNTRY:
        return text
    if re.fullmatch(r"[0-9]{6}", text):
        found = sorted(set(resolve(text))) if resolve else []
        if len(found) == 1:
            return found[0]
        why = (
            f"is ambiguous: the loaded administrative units hold {', '.join(found)}"
            if found
            else "has no type digit and no loaded gmina boundary resolves it"
        )
        raise NotTeryt(f"{text!r} {why}")
    code = normalise(text)
    if len(code) != 7:
        raise NotTeryt(f"{text!r} is not a gmina's code (a voivodeship, county or precinct is no city)")
    return code


#: how to give a city when a code was refused
FIX = (
    "give the 7-digit TERYT code with its type digit (1 urban, 2 rural, 3 urban-rural gmina, 8/9 a district),"
    " e.g. 1465011 or PRG's 146501_1; a 6-digit code works once PRG's gmina layer is loaded as"
    " administrative_units"
)
