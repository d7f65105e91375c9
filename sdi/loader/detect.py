"""Work out what a source file does not say plainly: its text encoding and its coordinate system.

Polish municipal shapefiles often come without a .cpg, with a .prj named "unnamed", or with no .prj
at all. These pure functions look at the DBF bytes, the CRS parameters and the coordinates themselves,
and say which encoding or EPSG code fits, so `sdi.loader.read` can decode "Świętokrzyska" correctly and put
the features in Poland rather than in the Gulf of Guinea.
"""

from __future__ import annotations

import codecs
import logging
import re
from functools import lru_cache
from pathlib import Path

import numpy as np
from pyproj import CRS

from sdi.core.errors import InputError
from sdi.loader.extent import POLAND_LONLAT, inside_poland_mask

logger = logging.getLogger(__name__)

_POLISH = set("ąćęłńóśźżĄĆĘŁŃÓŚŹŻ")
_SAMPLE_BYTES = 4 * 1024 * 1024

# Only language driver ids that name one code page. 0x00, 0x03 and 0x57 ("current ANSI") are what
# tools write when they do not know, so they prove nothing and fall through to content detection.
_LDID = {
    0x1F: "cp852",
    0x22: "cp852",
    0x23: "cp852",
    0x64: "cp852",
    0x26: "cp866",
    0x65: "cp866",
    0xC8: "cp1250",
    0xC9: "cp1251",
}

# EPSG code -> (lon_0, k, x_0, y_0) of the Polish transverse Mercator systems.
_TMERC = {2180: (19.0, 0.9993, 500_000.0, -5_300_000.0)}
_TMERC.update({2171 + zone: (3.0 * zone, 0.999923, zone * 1e6 + 500_000.0, 0.0) for zone in (5, 6, 7, 8)})


def detect_encoding(shp_path: Path, override: str | None = None) -> tuple[str, str]:
    """The Python codec of a shapefile's DBF and where it came from: override, cpg, ldid or detected."""
    shp_path = Path(shp_path)
    if override:
        codec = _codec(override)
        if codec is None:
            raise InputError(f"--encoding {override}: not a known encoding", "use e.g. cp1250, iso-8859-2 or utf-8")
        return codec, "override"
    cpg = _sidecar(shp_path, ".cpg")
    if cpg is not None:
        text = cpg.read_bytes().decode("utf-8-sig", errors="replace")
        codec = parse_cpg(text)
        if codec:
            return codec, "cpg"
        logger.warning("%s: cannot understand code page %r, detecting from content", cpg, text.strip())
    dbf = _sidecar(shp_path, ".dbf")
    if dbf is None:
        # Nothing to decode; GDAL will complain about the missing DBF itself if it matters.
        return "utf-8", "detected"
    with open(dbf, "rb") as f:
        header = f.read(32)
        if len(header) < 32:
            return "utf-8", "detected"
        if header[29] in _LDID:
            return _LDID[header[29]], "ldid"
        f.seek(int.from_bytes(header[8:10], "little"))
        sample = f.read(_SAMPLE_BYTES)
    return _guess_text(sample), "detected"


def parse_cpg(text: str) -> str | None:
    """The Python codec named by the text of a .cpg file, or None if it names none."""
    raw = text.replace("\ufeff", "").strip()
    key = re.sub(r"[\s_\-]", "", raw).upper().removeprefix("ANSI")
    if key in ("UTF8", "65001"):
        return "utf-8"
    if m := re.fullmatch(r"(?:ISO)?8859(\d{1,2})", key) or re.fullmatch(r"2859(\d)", key):
        return _codec(f"iso8859-{m.group(1)}")
    if m := re.fullmatch(r"(?:CP|WINDOWS|WIN)?(\d{3,5})", key):
        return _codec(f"cp{m.group(1)}")
    return _codec(raw) or _codec(key)


def _codec(name: str) -> str | None:
    """Normalised name of a text codec, None for unknown names and bytes-to-bytes codecs like hex."""
    try:
        info = codecs.lookup(name.strip())
    except (LookupError, ValueError):
        return None
    return info.name if getattr(info, "_is_text_encoding", True) else None


def _sidecar(shp_path: Path, ext: str) -> Path | None:
    """A file beside the .shp with the same stem and the given extension, in any letter case."""
    folder, stem = shp_path.parent, shp_path.stem
    exact = folder / f"{stem}{ext}"
    if exact.exists():
        return exact
    try:
        for item in folder.iterdir():
            if item.stem.lower() == stem.lower() and item.suffix.lower() == ext:
                return item
    except OSError:  # an unreadable folder simply has no sidecar
        pass
    return None


def _guess_text(sample: bytes) -> str:
    """UTF-8 if the bytes read as UTF-8 (or plain ASCII), else whichever of cp1250/iso8859-2 reads as Polish."""
    counts = np.bincount(np.frombuffer(sample, dtype=np.uint8), minlength=256)
    ascii_bytes = int(counts[:0x80].sum())
    if ascii_bytes == len(sample):
        return "utf-8"
    text = sample.decode("utf-8", errors="replace")
    invalid = text.count("\ufffd")
    valid = len(text) - ascii_bytes - invalid
    # Not strict: a sample cut, or a tool that truncated a text field mid-character, leaves a few broken
    # sequences in real UTF-8, while in Polish cp1250/iso8859-2 text about 99% of them are broken
    # (measured on Warsaw street names, upper-cased too).
    if valid > 2 * invalid:
        return "utf-8"
    scores = {codec: int(counts @ _weights(codec)) for codec in ("cp1250", "iso8859-2")}
    logger.debug("encoding scores: %s", scores)
    # Ties go to cp1250: Windows exports are by far the most common in Polish municipal data.
    return "iso8859-2" if scores["iso8859-2"] > scores["cp1250"] else "cp1250"


@lru_cache(maxsize=4)
def _weights(codec: str) -> np.ndarray:
    """Per byte value: +1 for a Polish letter in `codec`, -1 for what text never holds (C1 control, undefined)."""
    chars = [bytes([b]).decode(codec, errors="replace") for b in range(256)]
    return np.array([1 if c in _POLISH else -1 if ("\x80" <= c <= "\x9f" or c == "\ufffd") else 0 for c in chars])


def match_crs(crs: CRS | None) -> tuple[int | None, str]:
    """The EPSG code of a CRS and how it was found ("epsg" or "parameters"); (None, "") when none fits."""
    if crs is None:
        return None, ""
    if crs.is_bound and crs.source_crs is not None:  # a TOWGS84 clause wraps the real CRS and hides its authority code
        crs = crs.source_crs
    if crs.is_compound:
        crs = crs.sub_crs_list[0]
    epsg = crs.to_epsg()
    if epsg:
        return (4326 if epsg == 4258 else epsg), "epsg"
    epsg = _match_parameters(crs)
    if epsg:
        return epsg, "parameters"
    # A loose match last: pyproj's low-confidence guesses are less certain than equal parameters.
    epsg = crs.to_epsg(min_confidence=25)
    if epsg:
        return (4326 if epsg == 4258 else epsg), "epsg"
    return None, ""


def _match_parameters(crs: CRS) -> int | None:
    ell = crs.ellipsoid
    if ell is None or abs(ell.semi_major_metre - 6378137.0) > 1.0:
        return None
    # GRS80 and WGS84 differ by 0.1 mm in the flattening: in Poland they give the same coordinates.
    grs80 = abs(ell.inverse_flattening - 298.2572) < 1e-3
    if crs.is_geographic:
        return 4326 if grs80 else None
    op = crs.coordinate_operation
    if op is None or not crs.axis_info or abs(crs.axis_info[0].unit_conversion_factor - 1.0) > 1e-9:
        return None
    method = op.method_name.lower().replace("_", " ")
    if "pseudo mercator" in method or ("mercator" in method and "auxiliary sphere" in method):
        return 3857
    if not grs80 or "transverse mercator" not in method or "south" in method:
        return None
    params = {p.name.lower(): p.value for p in op.params}
    found = (
        _param(params, "longitude"),
        _param(params, "scale"),
        _param(params, "easting"),
        _param(params, "northing"),
        _param(params, "latitude"),
    )
    got = [v for v in found if v is not None]
    if len(got) < len(found):
        return None
    for epsg, want in _TMERC.items():
        # four tolerances for the first four parameters: zip stops there (the fifth is checked as == 0)
        tolerances = (1e-6, 1e-9, 1e-3, 1e-3)
        if got[4] == 0 and all(abs(g - w) <= tol for g, w, tol in zip(got, want, tolerances, strict=False)):
            return epsg
    return None


def _param(params: dict, word: str) -> float | None:
    return next((v for k, v in params.items() if word in k), None)


def guess_crs(x: np.ndarray, y: np.ndarray) -> int | None:
    """The EPSG code whose usual range over Poland holds these coordinates, or None."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        return None
    # Percentiles, not min/max: one stray (0, 0) must not decide the CRS of a whole file.
    (x5, xm, x95), (y5, y95) = np.percentile(x[ok], [5, 50, 95]), np.percentile(y[ok], [5, 95])

    def within(lo_x, hi_x, lo_y, hi_y) -> bool:
        return lo_x <= x5 and x95 <= hi_x and lo_y <= y5 and y95 <= hi_y

    west, south, east, north = POLAND_LONLAT
    if within(west, east, south, north):
        return 4326
    if within(5.3e6, 8.7e6, 5.4e6, 6.1e6):
        return 2171 + int(xm // 1e6)
    if within(100_000, 900_000, 100_000, 820_000):
        return 2180
    if within(1.5e6, 2.72e6, 6.2e6, 7.4e6):
        return 3857
    return None


def check_in_poland(x: np.ndarray, y: np.ndarray, epsg: int, crs_source: str) -> None:
    """Raise InputError when most coordinates lie outside Poland under `epsg`, naming the likely CRS."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(x) > 100_000:  # a strided sample decides as well and keeps big loads fast
        step = len(x) // 100_000 + 1
        x, y = x[::step], y[::step]
    if len(x) == 0 or inside_poland_mask(x, y, epsg).mean() >= 0.5:
        return
    logger.info("coordinates outside Poland under EPSG:%s (CRS from %s)", epsg, crs_source)
    message = f"coordinates lie outside Poland in EPSG:{epsg}"
    if inside_poland_mask(y, x, epsg).mean() >= 0.5:
        raise InputError(
            f"{message}; they look like northing/easting swapped", "swap the columns or rerun with the right --crs"
        )
    guess = guess_crs(x, y)
    if guess is not None and guess != epsg and inside_poland_mask(x, y, guess).mean() >= 0.5:
        raise InputError(
            f"{message}; they look like EPSG:{guess} ({describe_epsg(guess)})", f"rerun with --crs EPSG:{guess}"
        )
    raise InputError(message, "check the coordinates, or give --crs")


def describe_epsg(epsg: int | None) -> str:
    """A short human name for the EPSG codes met in Polish data."""
    if epsg == 2180:
        return "PUWG 1992"
    if epsg in (2176, 2177, 2178, 2179):
        return f"PUWG 2000 zone {epsg - 2171}"
    names = {4326: "WGS 84 lon/lat", 4258: "ETRS89 lon/lat", 3857: "Web Mercator"}
    if epsg in names:
        return names[epsg]
    if epsg is None:
        return "EPSG:None"  # what pyproj's refusal below gave before: no code to name
    try:
        return CRS.from_epsg(epsg).name
    except Exception:  # pyproj raises CRSError or TypeError for junk; a label is never worth a crash
        return f"EPSG:{epsg}"
