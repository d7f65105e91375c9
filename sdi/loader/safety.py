"""Refuse bad input before GDAL touches it: missing, unreadable, empty, truncated or hostile files.

GDAL is forgiving in ways that hurt: a shapefile without its .dbf opens with no attributes, a truncated
.shp reads fewer features, a zip bomb is decompressed on demand, and an XML entity bomb ("billion
laughs") makes it abort. The checks look at headers, zip directories and the head of XML files; a zip's
entries are also inflated once into nothing, counting the bytes, since the sizes a zip declares can lie.
Nothing is ever extracted to disk.
"""

from __future__ import annotations

import glob
import logging
import os
import stat
import struct
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from sdi.core.errors import InputError

logger = logging.getLogger(__name__)

_VECTOR = (".shp", ".gpkg", ".geojson", ".json", ".gml", ".xml", ".kml", ".csv")
_MB = 1024**2
_GB = 1024**3
_BOMB_RATIO = 1000  # deflate tops out near 1032:1, so only near-constant data gets this far
_BOMB_ENTRY = 100 * _MB
_SHAPE_MAGIC, _SHAPE_VERSION = 9994, 1000
_COPY_ALL = "copy all files of the shapefile (.shp, .shx, .dbf, .prj, .cpg) together"
_SIDECARS = {".shx": "index", ".dbf": "attributes"}
_XML = (".gml", ".xml", ".kml")
_XML_HEAD = 1 * _MB  # a DOCTYPE comes before the root element, so the head is where it must be
_CHUNK = 1 * _MB
# "<!DOCTYPE" and "<!ENTITY" as UTF-8/ASCII and as UTF-16 in either byte order
_DTD_MARKS = tuple(m.encode(c) for m in ("<!DOCTYPE", "<!ENTITY") for c in ("ascii", "utf-16-le", "utf-16-be"))


def check_source(path: Path, max_unzipped_bytes: int = 4 * _GB) -> None:
    """Raise InputError if the source is missing, unreadable, empty, damaged or a hostile zip."""
    path = Path(path)
    try:
        exists = path.exists()
    except PermissionError:  # a parent folder we may not enter
        _denied(path)
    if not exists:
        raise InputError(f"{path}: no such file or folder", "check the path")
    if path.is_dir():
        _check_folder(path)
        return
    _check_file(path)
    suffix = path.suffix.lower()
    if suffix == ".zip":
        _check_zip(path, max_unzipped_bytes)
    elif suffix == ".shp":
        _check_shapefile(path)
    elif suffix in _XML:
        _check_xml_head(path, _head(path, _XML_HEAD))
    logger.debug("%s passed the safety checks", path)


def _denied(path: Path):
    raise InputError(f"{path}: permission denied", "ask for read access or copy the file somewhere readable")


def _check_file(path: Path) -> None:
    _check_readable(path)
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty", "copy or download the file again")


def _check_readable(path: Path) -> None:
    # os.access alone misses ACLs and some network mounts, so also try opening the file.
    if not os.access(path, os.R_OK):
        _denied(path)
    try:
        with open(path, "rb"):
            pass
    except PermissionError:
        _denied(path)
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror})", "check the disk or copy the file again") from None


def _check_folder(path: Path) -> None:
    if path.suffix.lower() != ".gdb":
        raise InputError(f"{path} is a folder", "give a file, a zip or a .gdb folder")
    if not os.access(path, os.R_OK | os.X_OK):
        _denied(path)
    try:
        names = [p.name.lower() for p in path.iterdir()]
    except PermissionError:
        _denied(path)
    if not any(n == "gdb" or n.endswith(".gdbtable") for n in names):
        raise InputError(
            f"{path}: not a FileGDB folder (no gdb or .gdbtable files inside)",
            "give the whole .gdb folder as exported by ArcGIS or GDAL",
        )


def _require_sidecars(where: str, stem: str, names: list[str]) -> list[str]:
    """The .shx and .dbf names GDAL will open beside a .shp called `stem`, among the folder's `names`."""
    found = []
    for ext, role in _SIDECARS.items():
        # GDAL tries exactly `stem.dbf` and `stem.DBF`: a `stem.Dbf` or `STEM.dbf` is silently skipped
        # and the layer loses its attributes, so such a name gets a rename hint instead of a pass.
        usable = [n for n in (stem + ext, stem + ext.upper()) if n in names]
        if usable:
            found.append(usable[0])
            continue
        near = [n for n in names if n.lower() == (stem + ext).lower()]
        if near:
            raise InputError(
                f"{where}: the shapefile's {ext} is named {near[0]}, which GDAL does not find",
                f"rename it to {stem}{ext}",
            )
        raise InputError(f"{where}: the shapefile has no {ext} ({role}) beside it", _COPY_ALL)
    return found


def _check_shapefile(path: Path) -> None:
    names = [p.name for p in path.parent.iterdir()]
    shx, dbf = (path.parent / n for n in _require_sidecars(str(path), path.stem, names))
    _check_file(shx)
    _check_file(dbf)
    # Optional sidecars (.prj, .cpg, .qix...) may be empty, but unreadable ones GDAL would quietly skip.
    for other in sorted(path.parent.glob(f"{glob.escape(path.stem)}.*")):
        if other.is_file():
            _check_readable(other)
    _check_shape_header(path, "shp")
    _check_shape_header(shx, "shx")
    _check_dbf_header(dbf)


def _head(path: Path, size: int) -> bytes:
    with open(path, "rb") as f:
        return f.read(size)


def _check_shape_header(path: Path, kind: str) -> None:
    head = _head(path, 100)
    if (
        len(head) < 32
        or struct.unpack(">i", head[:4])[0] != _SHAPE_MAGIC
        or struct.unpack("<i", head[28:32])[0] != _SHAPE_VERSION
    ):
        raise InputError(f"{path}: not a shapefile (wrong header)", "check that the file is really a shapefile")
    declared = struct.unpack(">i", head[24:28])[0] * 2  # the header counts 16-bit words
    _check_length(path, kind, declared)


def _check_dbf_header(path: Path) -> None:
    head = _head(path, 32)
    if len(head) < 12:
        raise InputError(f"{path}: not a dBase file (wrong header)", "check that the file is really a .dbf")
    records, header_len, record_len = struct.unpack("<IHH", head[4:12])
    _check_length(path, "dbf", header_len + records * record_len)


def _check_length(path: Path, kind: str, declared: int) -> None:
    actual = path.stat().st_size
    if declared > actual:
        raise InputError(
            f"{path}: the .{kind} is truncated: its header says {declared} bytes, the file has {actual}",
            "copy or download the file again",
        )


def check_raster_source(path: Path, max_unzipped_bytes: int = 4 * _GB) -> None:
    """The same promises for a raster: a file, a folder of tiles, or a zip of either."""
    path = Path(path)
    try:
        exists = path.exists()
    except PermissionError:
        _denied(path)
    if not exists:
        raise InputError(f"{path}: no such file or folder", "check the path")
    if path.is_dir():
        if not os.access(path, os.R_OK | os.X_OK):
            _denied(path)
        return
    _check_file(path)
    if path.suffix.lower() == ".zip":
        _zip_entries(path, max_unzipped_bytes)


def _check_xml_head(where: Path | str, head: bytes) -> None:
    """Refuse an XML file that declares a DTD: GML and KML never need one, and entity expansion is a bomb."""
    if any(mark in head for mark in _DTD_MARKS):
        raise InputError(
            f"{where}: the XML declares a DOCTYPE or entities, which GML and KML never need"
            " (an entity-expansion bomb makes the reader abort)",
            "export the file again without a DOCTYPE, or remove the <!DOCTYPE ...> block",
        )


def _check_zip(path: Path, max_unzipped_bytes: int) -> None:
    infos = _zip_entries(path, max_unzipped_bytes)
    names = [i.filename for i in infos if not i.filename.startswith("__MACOSX")]
    with zipfile.ZipFile(path) as archive:
        for info in infos:
            if info.filename.lower().endswith(_XML) and info.compress_type in _INFLATERS:
                with archive.open(info) as member:  # reads at most the declared size, already checked
                    _check_xml_head(f"{path}: {info.filename}", member.read(_XML_HEAD))
    if not any(_is_vector(n) for n in names):
        listed = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        raise InputError(
            f"{path}: the zip holds no vector layer (it holds {listed or 'only __MACOSX'})",
            f"the zip should contain one of {', '.join(_VECTOR)} or a .gdb folder",
        )
    for name in names:
        inner = PurePosixPath(name)
        if inner.suffix.lower() == ".shp":
            folder = [PurePosixPath(n).name for n in names if PurePosixPath(n).parent == inner.parent]
            _require_sidecars(f"{path}: {name}", inner.stem, folder)


def _zip_entries(path: Path, max_unzipped_bytes: int) -> list[zipfile.ZipInfo]:
    """The entries of a zip that is whole, stays inside itself and is no bomb."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise InputError(f"{path}: not a valid zip file", "re-download or re-pack the archive") from None
    if not infos:
        raise InputError(f"{path}: the zip is empty", "re-download or re-pack the archive")
    for info in infos:
        # sdi never extracts, but an archive built to escape its folder is not one to trust at all.
        name = info.filename.replace("\\", "/")
        if (
            name.startswith("/")
            or (len(name) > 1 and name[1] == ":")
            or ".." in name.split("/")
            or stat.S_ISLNK(info.external_attr >> 16)
        ):
            raise InputError(
                f"{path}: the zip holds an entry that points outside the archive: {info.filename}",
                "re-pack the archive without absolute or .. paths",
            )
    _check_zip_size(path, infos, max_unzipped_bytes)
    _check_inflated(path, infos, max_unzipped_bytes)
    return infos


def _check_zip_size(path: Path, infos: list[zipfile.ZipInfo], max_unzipped_bytes: int) -> None:
    """Judge the size from the zip's own directory; decompressing to measure would be the bomb going off."""
    total = sum(i.file_size for i in infos)
    if total > max_unzipped_bytes:
        raise InputError(
            f"{path}: the zip unpacks to {_size(total)}, over the limit of {_size(max_unzipped_bytes)}",
            "raise SDI_MAX_UNZIPPED_MB if the archive is genuine",
        )
    for info in infos:
        ratio = info.file_size / max(info.compress_size, 1)
        if ratio > _BOMB_RATIO and info.file_size > _BOMB_ENTRY:
            raise InputError(
                f"{path}: the zip entry {info.filename} expands {ratio:.0f}:1 to {_size(info.file_size)},"
                " like a zip bomb",
                "if the archive is genuine, re-pack it without compression",
            )


_RAW_DEFLATE = -15  # zlib wbits for a zip entry's deflate stream: no zlib header
_INFLATERS = {zipfile.ZIP_STORED: None, zipfile.ZIP_DEFLATED: _RAW_DEFLATE}


def _check_inflated(path: Path, infos: list[zipfile.ZipInfo], max_unzipped_bytes: int) -> None:
    """Inflate every entry into nothing, counting the bytes it really gives: a forged size is refused.

    GDAL's /vsizip/ inflates a deflate stream to its end, whatever size the directory declares, so a
    zip that declares 50 MB can stream gigabytes. Inflating stops as soon as an entry gives more than
    it declares, so a bomb costs at most the declared (and limited) size's worth of CPU.
    """
    # With the declared total already under the limit, an entry that gives no more than it declares
    # keeps the real total under it too: checking each entry against its own claim is enough.
    with open(path, "rb") as raw:
        for info in infos:
            if info.is_dir() or info.compress_type not in _INFLATERS:
                continue  # methods GDAL cannot read (bzip2, lzma) are never inflated by it either
            if _inflate_entry(raw, info, cap=info.file_size) > info.file_size:
                raise InputError(
                    f"{path}: the zip entry {info.filename} inflates to more than the"
                    f" {_size(info.file_size)} it declares (forged sizes, like a zip bomb)",
                    "re-pack the archive with a standard zip tool",
                )


def _inflate_entry(raw, info: zipfile.ZipInfo, cap: int) -> int:
    """Bytes the entry's data gives, reading until its stream ends; stops once past `cap`."""
    raw.seek(info.header_offset)
    local = raw.read(30)
    if len(local) < 30 or local[:4] != b"PK\x03\x04":
        raise InputError(
            f"{raw.name}: not a valid zip file (entry {info.filename} is damaged)", "re-download or re-pack the archive"
        )
    name_len, extra_len = struct.unpack("<HH", local[26:30])
    raw.seek(name_len + extra_len, os.SEEK_CUR)
    if info.compress_type == zipfile.ZIP_STORED:
        return info.compress_size  # stored bytes are read as they are: the size is what they take
    inflater, given = zlib.decompressobj(_RAW_DEFLATE), 0
    try:
        while not inflater.eof and given <= cap:
            chunk = raw.read(_CHUNK) if not inflater.unconsumed_tail else b""
            if not chunk and not inflater.unconsumed_tail:
                break  # the stream is cut short; GDAL reports that itself
            given += len(inflater.decompress(inflater.unconsumed_tail + chunk, _CHUNK))
    except zlib.error:
        raise InputError(
            f"{raw.name}: the zip entry {info.filename} is damaged (bad deflate data)",
            "re-download or re-pack the archive",
        ) from None
    return given


def _is_vector(name: str) -> bool:
    lowered = name.lower()
    in_gdb = any(part.endswith(".gdb") for part in lowered.split("/")[:-1])
    return lowered.endswith((*_VECTOR, ".txt", ".tsv")) or in_gdb


def _size(n: int) -> str:
    """Sizes in the unit a user sets: GB for big ones, MB (as in SDI_MAX_UNZIPPED_MB) below that."""
    return f"{n / _GB:.1f} GB" if n >= _GB else f"{n / _MB:.0f} MB"
