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
import pyarrow.compute as pc

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
    offsets = np.frombuffer(offsets_buf, dtype=np.int64)[array.offset : array.offset + len(array) + 1]
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
        values = _object_ints(series, valid)
    else:
        floats = pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        valid &= ~np.isnan(floats)
        if np.any(np.abs(floats[valid]) >= 2.0**63):
            raise OverflowError("a value does not fit in bigint")
        values = np.where(valid, floats, 0).astype(np.int64)
    return _fixed(values, valid, ">i8")


def _object_ints(series: pd.Series, valid: np.ndarray) -> np.ndarray:
    """int(v) of each valid value; numpy does it in C when every value is a plain Python int."""
    objects = series.to_numpy(dtype=object, copy=True)
    objects[~valid] = 0
    if pd.api.types.infer_dtype(objects, skipna=False) == "integer":  # ints only (no bools, floats, text)
        return np.array(objects.tolist(), dtype=np.int64)
    return np.array([int(v) for v in objects], dtype=np.int64)


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


def rows(fields: list[Field], chunk: int = 65536) -> bytes:
    """The rows of a batch in binary COPY form (without the header and trailer).

    In slices of `chunk` rows, so that the per-byte label array below stays small for big polygons.
    """
    n = len(fields[0].lengths)
    return b"".join(
        _rows([Field(f.lengths[i : i + chunk], f.offsets[i : i + chunk], f.data) for f in fields])
        for i in range(0, n, chunk)
    )


def _rows(fields: list[Field]) -> bytes:
    """Interleave the fields row by row with Arrow's element-wise join, in C.

    A row is [field count][length 0][data 0][length 1][data 1]...: every piece whose size is the same
    in each row (the count, the lengths, a field that is all NULL or of one width) is a column of one
    byte matrix; the pieces between are binary arrays of n values. These are joined value by value, and
    the joined array's buffer is the rows back to back.
    """
    n, k = len(fields[0].lengths), len(fields)
    pieces: list = [np.tile(np.array([k], dtype=">i2").view(np.uint8), (n, 1))]  # matrices and (data, size)
    for f in fields:
        size = np.maximum(f.lengths, 0)
        pieces.append(f.lengths.astype(">i4").view(np.uint8).reshape(n, 4))
        width = int(size[0]) if n else 0
        if n and (size == width).all():
            if width:
                pieces.append(_packed(f, size).reshape(n, width))
        else:
            pieces.append((_packed(f, size), size))
    arrays, fixed = [], []
    for piece in [*pieces, None]:
        if isinstance(piece, np.ndarray):
            fixed.append(piece)
            continue
        if fixed:  # the run of fixed pieces so far, as one matrix
            matrix = np.hstack(fixed) if len(fixed) > 1 else fixed[0]
            arrays.append(_binary_of(matrix.ravel(), np.full(n, matrix.shape[1])))
            fixed = []
        if piece is not None:
            arrays.append(_binary_of(*piece))
    return _joined(arrays, n) if n else b""


def _joined(arrays: list, n: int) -> bytes:
    joined = pc.binary_join_element_wise(*arrays, pa.scalar(b"", pa.large_binary())) if len(arrays) > 1 else arrays[0]
    offsets = np.frombuffer(joined.buffers()[1], dtype=np.int64)[joined.offset : joined.offset + n + 1]
    return joined.buffers()[2].slice(int(offsets[0]), int(offsets[-1] - offsets[0])).to_pybytes() if n else b""


def _binary_of(data: np.ndarray, size: np.ndarray) -> pa.Array:
    """A large_binary array (no NULLs) of values `size` bytes long, back to back in `data`; no copy."""
    offsets = np.zeros(len(size) + 1, dtype=np.int64)
    np.cumsum(size, out=offsets[1:])
    data = np.ascontiguousarray(data)
    return pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), len(size), [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )


def _packed(f: Field, size: np.ndarray) -> np.ndarray:
    """A field's bytes for its non-NULL rows, back to back in row order."""
    n = len(size)
    if n and (f.offsets[1:] == f.offsets[:-1] + size[:-1]).all():
        return f.data[f.offsets[0] : f.offsets[0] + int(size.sum())]  # already contiguous: Arrow buffers
    total = int(size.sum())
    # byte t of the output is byte (t - start of its row) of that row's data
    starts = np.repeat(f.offsets - (np.cumsum(size) - size), size)
    return f.data[starts + np.arange(total, dtype=np.int64)]


def point_ewkb(x: np.ndarray, y: np.ndarray, srid: int) -> Field:
    """2D points as EWKB, written from their coordinates: the bytes shapely's WKB plus ewkb() would give.

    A point's EWKB is 25 bytes of fixed layout (byte order, type with the SRID flag, SRID, x, y), so a
    million of them are one numpy matrix; going through GEOS objects and their WKB costs ~0.7 s per million.
    """
    n = len(x)
    out = np.empty((n, 25), dtype=np.uint8)
    out[:, :9] = np.frombuffer(b"\x01" + np.array([0x20000001, srid], dtype="<u4").tobytes(), dtype=np.uint8)
    out[:, 9:] = np.column_stack([np.asarray(x, "<f8"), np.asarray(y, "<f8")]).view(np.uint8)
    return Field(np.full(n, 25, dtype=np.int64), np.arange(n, dtype=np.int64) * 25, out.ravel())


def ewkb(wkb: np.ndarray, srid: int) -> Field:
    """Little-endian WKB (as shapely writes it with byte_order=1) as EWKB with `srid`, without parsing it.

    EWKB is WKB with a flag in its type's high byte and the SRID after the type: four bytes put in
    after byte 5 of each value, vectorised (shapely.set_srid would clone every geometry to do it).
    """
    f = binary(wkb)
    valid = f.lengths >= 0
    size = np.maximum(f.lengths, 0)
    data = _packed(f, size)
    new = np.where(valid, size + 4, 0)
    starts = np.zeros(len(new), dtype=np.int64)
    np.cumsum(new[:-1], out=starts[1:])
    slot = np.zeros(int(new.sum()), dtype=bool)  # the four SRID bytes of each value
    at = starts[valid]
    for i in range(5, 9):
        slot[at + i] = True
    out = np.empty(len(slot), dtype=np.uint8)
    out[~slot] = data
    out[slot] = np.tile(np.array([srid], dtype="<u4").view(np.uint8), int(valid.sum()))
    out[at + 4] |= 0x20  # wkbSRID flag, in the type's high byte (little-endian)
    return Field(np.where(valid, new, -1), starts, out)
