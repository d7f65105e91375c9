"""Convert source values to the types of the common schema, the way Polish municipal files write them.

Numbers may use a decimal comma and spaces between thousands ("1 234,5"); dates come as 2021-05-03,
03.05.2021, 3.05.2021 r. or 03-05-2021; booleans as tak/nie, T/N, 1/0. A value that does not convert
becomes None, and the caller reports it by name.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

TEMPLATE = re.compile(r"\{([^{}]+)\}")  # a mapping's template: "{ulica} {nr}" names its source columns
_NUMBER = re.compile(r"^[+-]?\d+(?:[ \u00a0]\d{3})*(?:[.,]\d+)?$|^[+-]?\d*[.,]\d+$")
_DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y", "%d-%m-%Y", "%Y/%m/%d", "%d/%m/%Y", "%Y.%m.%d", "%Y%m%d")
_TRUE = {"tak", "t", "true", "yes", "y", "1", "prawda", "jednokierunkowa", "jednokierunkowy"}
_FALSE = {"nie", "n", "false", "no", "0", "fałsz", "falsz", "dwukierunkowa", "dwukierunkowy"}


class Unconvertible(ValueError):
    """A value that cannot become the target type."""


def is_null(value: Any) -> bool:
    """None, NaN and NaT: no value at all (and nothing JSON or jsonb would accept)."""
    return value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


def is_missing(value: Any) -> bool:
    """Null, or a blank string: 'no value' as a city's file means it."""
    return is_null(value) or (isinstance(value, str) and not value.strip())


def to_string(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a DBF numeric id 5503.0 means "5503"
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return str(value).strip()


def to_number(value: Any) -> float:
    if isinstance(value, (bool, np.bool_)):
        raise Unconvertible(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    text = str(value).strip()
    if not _NUMBER.match(text):
        raise Unconvertible(value)
    return float(text.replace(" ", "").replace("\u00a0", "").replace(",", "."))


def to_integer(value: Any) -> int:
    number = to_number(value)
    if not number.is_integer():
        raise Unconvertible(value)
    return int(number)


def to_boolean(value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, float, np.integer, np.floating)) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise Unconvertible(value)


def to_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, pd.Timestamp):
        return value.date()
    text = re.sub(r"\s*r\.?$", "", str(value).strip())  # "3.05.2021 r."
    text = text.split("T")[0].split(" ")[0]
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise Unconvertible(value)


CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "string": to_string,
    "integer": to_integer,
    "number": to_number,
    "boolean": to_boolean,
    "date": to_date,
}

#: PostgreSQL column type of each schema type.
PG_TYPES = {"string": "text", "integer": "bigint", "number": "double precision", "boolean": "boolean", "date": "date"}


def convert(value: Any, field_type: str) -> Any:
    """One value converted to a schema type; None for a missing value; Unconvertible when impossible."""
    if is_missing(value):
        return None
    return CONVERTERS[field_type](value)


def as_list(value: Any) -> list | None:
    """The elements of a multi-value source field (a list, an array, or GDAL's "(2:a,b)" text form), or None."""
    if isinstance(value, (list, tuple, np.ndarray)):
        return [v for v in value if not is_missing(v)]
    if isinstance(value, str):
        match = re.match(r"^\((\d+):(.*)\)$", value.strip())
        if match:
            return [v for v in match.group(2).split(",") if v.strip()]
    return None


def ascii_fold(text: str) -> str:
    """Polish letters to their base letter (ł has no Unicode decomposition, so it is mapped by hand)."""
    text = text.replace("ł", "l").replace("Ł", "L")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def hashable(value: Any) -> Any:
    """A source value usable as a dict key: lists become tuples, NaN becomes None."""
    if isinstance(value, (list, np.ndarray)):
        return tuple(value)
    if isinstance(value, float) and np.isnan(value):
        return None
    return value
