"""Encodings per column: a DBF whose .cpg says UTF-8 may hold one column written in another code page.

GDAL decodes a whole DBF with one encoding, and the Arrow stream fails on the first invalid byte. So the
text columns are checked first, straight from the DBF's fixed-width records; a column whose bytes are
invalid in the file's encoding gets its own (UTF-8, CP1250 or ISO-8859-2, by which reads as Polish).
The file is then read as Latin-1, which maps every byte to one character, and each column is decoded
again with its own encoding, so nothing is lost and nothing crashes.
"""

from __future__ import annotations

import codecs
import importlib
import logging
import re
import struct
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sdi.loader import detect

logger = logging.getLogger(__name__)

PASSTHROUGH = "ISO-8859-1"  # every byte is one character: the bytes survive GDAL untouched
_LOST = re.compile(r"[^\W\d_]\?[^\W\d_]|^\?[^\W\d_]|[^\W\d_]\?$")  # "dolno?l?skie": letters lost at source


@dataclass
class ColumnCodec:
    """A text column that its file's encoding cannot decode, and what decodes it."""

    codec: str
    invalid: int  # values invalid in the file's encoding
    sample: str  # one such value as this column's codec reads it


def mismatched_columns(gdal_path: str, codec: str) -> dict[str, ColumnCodec]:
    """The DBF's text columns whose bytes are invalid in `codec`, each with the encoding that reads them."""
    data = _dbf_bytes(gdal_path)
    if data is None or len(data) < 32:
        return {}
    records, header_len, record_len = struct.unpack("<IHH", bytes(data[4:12]))
    header = bytes(data[:header_len])
    fields, offset = [], 1  # each record starts with its deletion flag
    for pos in range(32, len(header) - 1, 32):
        if header[pos] == 0x0D:
            break
        name = header[pos : pos + 11].split(b"\x00")[0].decode("ascii", errors="replace")
        kind, length = chr(header[pos + 11]), header[pos + 16]
        if kind == "C":
            fields.append((name, offset, length))
        offset += length
    body = np.asarray(data[header_len : header_len + records * record_len], dtype=np.uint8)
    rows = body[: len(body) // record_len * record_len].reshape(-1, record_len) if record_len else body[:0]
    if fields and _all_bytes_decode(_chunks(data, header_len, header_len + records * record_len), codec):
        return {}  # one pass over the records instead of one decode per text column
    found = {}
    for name, start, length in fields:
        column = rows[:, start : start + length]
        try:
            column.tobytes().decode(codec)
            continue
        except UnicodeDecodeError:
            pass
        values = [bytes(r).rstrip(b" \x00") for r in column]
        bad = [v for v in values if not _decodes(v, codec)]
        own = detect._guess_text(b" ".join(bad))
        own = own if own != codec else "cp1250"
        found[name] = ColumnCodec(own, len(bad), bad[0].decode(own, errors="replace"))
        logger.info("%s: column %s is not %s; read as %s", gdal_path, name, codec, own)
    return found


def redecode(frame: pd.DataFrame, codec: str, columns: dict[str, ColumnCodec]) -> pd.DataFrame:
    """Text read as Latin-1 decoded again: each mismatched column by its own codec, the rest by the file's."""
    for name in frame.columns:
        if not pd.api.types.is_string_dtype(frame[name].dtype) or name == getattr(frame, "_geometry_column_name", None):
            continue
        own = columns[name].codec if name in columns else codec
        frame[name] = pd.Series(
            [
                v.encode(PASSTHROUGH).decode(own, errors="replace") if isinstance(v, str) else v
                for v in frame[name].astype(object)
            ],
            index=frame.index,
            dtype=object,
        )
    return frame


def lost_letters(frame: pd.DataFrame) -> list[str]:
    """Warnings for text columns with '?' where letters belong: Polish letters lost before the file was made."""
    notes = []
    for name in frame.columns:
        if not pd.api.types.is_string_dtype(frame[name].dtype):
            continue
        column = frame[name]
        # Only a value with a '?' can match: the C-level filter spares a regex over every value.
        try:
            maybe = column[column.str.contains("?", regex=False, na=False).astype(bool)]
        except (AttributeError, TypeError, ValueError):  # mixed values: look at each
            maybe = column
        hits = [v for v in maybe if isinstance(v, str) and _LOST.search(v)]
        if hits:
            notes.append(
                f"column {name}: {len(hits)} value(s) have '?' where letters belong (e.g. {hits[0]!r}):"
                " Polish letters were likely lost at source; ask for a new export"
            )
    return notes


def _all_bytes_decode(chunks: Iterator[bytes], codec: str) -> bool:
    """True when `codec` is a single-byte code page and no byte of the records is undefined in it.

    A single-byte codec decodes byte by byte, so a byte value it refuses anywhere is the only way a column
    can fail; one pass over the records answers for every column at once. Multi-byte codecs say False.
    """
    table = _byte_table(codec)
    if table is None:
        return False
    good = bytes(np.flatnonzero(table).astype(np.uint8))
    # bytes.translate deletes every decodable byte in one C pass; whatever is left is undecodable
    return len(good) == 256 or not any(chunk.translate(None, good) for chunk in chunks)


def _chunks(data: np.ndarray, start: int, stop: int, step: int = 1 << 24) -> Iterator[bytes]:
    """The bytes start..stop in 16 MB pieces; a mapped DBF is read from its file, so that its pages are
    not counted in the loader's memory (a 2 GB DBF would otherwise be 2 GB of peak RSS)."""
    stop = min(stop, len(data))
    if isinstance(data, np.memmap) and data.filename:
        with open(data.filename, "rb") as f:
            f.seek(start)
            for at in range(start, stop, step):
                yield f.read(min(step, stop - at))
        return
    for at in range(start, stop, step):
        yield data[at : min(at + step, stop)].tobytes()


def _byte_table(codec: str) -> np.ndarray | None:
    """Which of the 256 byte values `codec` decodes, for a single-byte codec; None for any other."""
    if codecs.lookup(codec).name not in _SINGLE_BYTE and not hasattr(_codec_module(codec), "decoding_table"):
        return None
    return np.array([_decodes(bytes([b]), codec) for b in range(256)], dtype=bool)


_SINGLE_BYTE = {"latin-1", "iso8859-1", "ascii"}


def _codec_module(codec: str):
    try:
        return importlib.import_module(f"encodings.{codecs.lookup(codec).name.replace('-', '_')}")
    except ImportError:
        return None


def _decodes(value: bytes, codec: str) -> bool:
    try:
        value.decode(codec)
        return True
    except UnicodeDecodeError:
        return False


def _dbf_bytes(gdal_path: str) -> np.ndarray | None:
    """The .dbf beside a .shp, plain or inside a zip (already checked for its size by sdi.loader.safety)."""
    if gdal_path.startswith("/vsizip/"):
        archive, _, member = gdal_path.removeprefix("/vsizip/").partition(".zip/")
        with zipfile.ZipFile(archive + ".zip") as z:
            names = {n.lower(): n for n in z.namelist()}
            dbf = names.get(str(Path(member).with_suffix(".dbf")).lower())
            return np.frombuffer(z.read(dbf), dtype=np.uint8) if dbf else None
    sidecar = detect._sidecar(Path(gdal_path), ".dbf")
    # Mapped, not read: a 2 GB DBF costs only the text columns' pages that are looked at.
    return np.memmap(sidecar, dtype=np.uint8, mode="r") if sidecar and sidecar.stat().st_size else None
