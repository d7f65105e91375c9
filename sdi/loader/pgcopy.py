"""PostgreSQL's binary COPY format, written column by column with numpy: no Python loop per row.

Binary COPY spares PostgreSQL the parsing that CSV costs it (a polygon's hex EWKB was its slow half): each
field arrives as the bytes of its type's receive function, geometry as raw EWKB. A row is an int16 field
count, then per field an int32 length (-1 for NULL) and the bytes, all big-endian.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa

HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
TRAILER = b"\xff\xff"

_PG_EPOCH_DAYS = (dt.date(2000, 1, 1) - dt.date(1970, 1, 1)).days


class Field:
    """One column of a batch in wire form: each row's length (-1 for NULL), its offset in `data`, `data`."""

    def __init__(self, lengths: np.ndarray, offsets: np.ndarray, data: np.ndarray):
        self.lengths, self.offsets, self.data = lengths.astype(np.int64), offsets.astype(np.int64), data


def _fixed(values: np.ndarray, valid: np.ndarray, dtype: str) -> Field:
    raw = np.ascontiguousarray(values.astype(dtype)).view(np.uint8)
    width = np.dtype(dtype).itemsize
    n = len(values)
    return Field(np.where(valid, width, -1), np.arange(n, dtype=np.int64) * width, raw)


def _varlen(array: pa.Array) -> Field:
    array = array.cast(pa.large_binary()) if not pa.types.is_large_binary(array.type) else array
    _, offsets_buf, data_buf = array.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int64)[array.offset:array.offset + len(array) + 1]
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    lengths = np.diff(offsets)
    valid = array.is_valid().to_numpy(zero_copy_only=False)
    return Field(np.where(valid, lengths, -1), offsets[:-1], data)


def _valid(series: pd.Series) -> np.ndarray:
    return series.notna().to_numpy().copy()


def text(series: pd.Series) -> Field:
    """text and char(n): UTF-8 bytes. Values that are not strings (numbers in a text column) as their str()."""
    try:
        array = pa.Array.from_pandas(series, type=pa.large_string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        array = pa.array([None if pd.isna(v) else str(v) for v in series], type=pa.large_string())
    return _varlen(array)


def binary(values) -> Field:
    """bytea-like wire bytes as they are, e.g. EWKB for geometry's receive function."""
    return _varlen(pa.array(values, type=pa.large_binary()))


def bigint(series: pd.Series) -> Field:
    valid = _valid(series)
    if series.dtype.kind in "iu":
        values = series.to_numpy(dtype="int64", na_value=0)
    elif series.dtype == object:  # Python ints are exact beyond 2**53; one that does not fit raises OverflowError
        values = np.array([int(v) if ok else 0 for v, ok in zip(series, valid)], dtype=np.int64)
    else:
        floats = pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        valid &= ~np.isnan(floats)
        if np.any(np.abs(floats[valid]) >= 2.0 ** 63):
            raise OverflowError("a value does not fit in bigint")
        values = np.where(valid, floats, 0).astype(np.int64)
    return _fixed(values, valid, ">i8")


def double(series: pd.Series) -> Field:
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    valid = _valid(series) & ~np.isnan(values)
    return _fixed(np.where(valid, values, 0.0), valid, ">f8")


def boolean(series: pd.Series) -> Field:
    valid = _valid(series)
    return _fixed(np.where(valid, series.fillna(False).astype(bool).to_numpy(), False), valid, "u1")


def date(series: pd.Series) -> Field:
    """Days since 2000-01-01, as PostgreSQL counts them."""
    days = pd.to_datetime(series, errors="coerce").to_numpy(dtype="datetime64[D]")
    valid = ~np.isnat(days)
    count = np.where(valid, days.astype(np.int64), 0) - _PG_EPOCH_DAYS
    return _fixed(count, valid, ">i4")


def constant_bigint(value: int, n: int) -> Field:
    return _fixed(np.full(n, value, dtype=np.int64), np.ones(n, dtype=bool), ">i8")


def rows(fields: list[Field], chunk: int = 8192) -> bytes:
    """The rows of a batch in binary COPY form (without the header and trailer).

    In slices of `chunk` rows: the byte-level index arrays are 8 bytes per byte written, and a batch of
    100,000 polygons would otherwise hold several of them at once.
    """
    n = len(fields[0].lengths)
    return b"".join(_rows([Field(f.lengths[i:i + chunk], f.offsets[i:i + chunk], f.data) for f in fields])
                    for i in range(0, n, chunk))


def _rows(fields: list[Field]) -> bytes:
    n = len(fields[0].lengths)
    sizes = np.full(n, 2, dtype=np.int64)
    for f in fields:
        sizes += 4 + np.maximum(f.lengths, 0)
    starts = np.zeros(n, dtype=np.int64)
    np.cumsum(sizes[:-1], out=starts[1:])
    out = np.empty(int(sizes.sum()), dtype=np.uint8)
    count = np.array([len(fields)], dtype=">i2").view(np.uint8)
    out[starts] = count[0]
    out[starts + 1] = count[1]
    at = starts + 2
    four = np.arange(4, dtype=np.int64)
    for f in fields:
        out[(at[:, None] + four).ravel()] = f.lengths.astype(">i4").view(np.uint8)
        size = np.maximum(f.lengths, 0)
        total = int(size.sum())
        if total:
            # byte k of row i goes from data[offsets[i] + k] to out[at[i] + 4 + k]
            shift = np.repeat(at + 4 - f.offsets, size)
            source = np.repeat(f.offsets, size) + (np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(size) - size, size))
            out[source + shift] = f.data[source]
        at = at + 4 + size
    return out.tobytes()
