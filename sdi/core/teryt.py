"""TERYT (TERC) codes as files write them: 1465011, PRG's 146501_1, with spaces, or a precinct's 306401_1.0001.

A gmina's code is six digits (voivodeship, county, gmina) and a type digit:
1 urban, 2 rural, 3 urban-rural gmina; 4 the town and 5 the rural area of an urban-rural gmina (whose
own code ends in 3); 8 a district of Warsaw and 9 a delegatura of another large city (they belong to
the city's code). PRG writes cadastral units as `DDDDDD_T` and precincts as `DDDDDD_T.NNNN`.
"""

from __future__ import annotations

import re

_SEVEN = re.compile(r"(\d{6})[_ ]?([1-589])")
_PRECINCT = re.compile(r"(\d{6})[_ ]?([1-589])\.(\d{1,4})")
#: type digits and what they mean, for messages
KINDS = {"1": "urban gmina", "2": "rural gmina", "3": "urban-rural gmina", "4": "town of an urban-rural gmina",
         "5": "rural area of an urban-rural gmina", "8": "district of Warsaw", "9": "delegatura of a city"}


class NotTeryt(ValueError):
    """A value that cannot be a TERYT code; the message says why."""


def normalise(value: object) -> str:
    """The 7-digit code of a unit (or `DDDDDDT.NNNN` of a precinct); NotTeryt when it cannot be one."""
    text = str(value).strip()
    if m := _SEVEN.fullmatch(text):
        return _checked(m.group(1), m.group(2))
    if m := _PRECINCT.fullmatch(text):
        return f"{_checked(m.group(1), m.group(2))}.{int(m.group(3)):04d}"
    if re.fullmatch(r"\d{2}|\d{4}|0", text):  # a voivodeship, a county, or the country
        return text
    if re.fullmatch(r"\d{6}", text):
        raise NotTeryt(f"{text!r} has no type digit (the 7th: 1 urban, 2 rural, 3 urban-rural...)")
    raise NotTeryt(f"{text!r} is not a TERYT code (7 digits such as 1465011, or PRG's 146501_1)")


def _checked(six: str, kind: str) -> str:
    if six[:2] == "00" or int(six[:2]) % 2 or int(six[:2]) > 32:
        raise NotTeryt(f"{six}{kind}: {six[:2]} is no voivodeship (02, 04, ... 32)")
    return six + kind


def looks_like(values: list) -> bool:
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
