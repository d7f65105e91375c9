"""Which file a catalogue row's raster may be: only the server's own COG, under SDI_RASTER_DIR.

A row of sdi.rasters is written by a city's login, so its `path` is what a caller wrote. The server never
opens it as given: it takes the name `<theme>/<city>/<YYYYmmddTHHMMSS>-<8 hex>.tif` (or, for rows made before
names were relative, an absolute path that resolves to such a name under the raster folder), checks that
theme and city are the row's own, joins it to its own raster folder, resolves links and `..`, and accepts
only a regular file inside that folder. Anything else is refused with a log line, never served.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from sdi.core import sqlfiles

logger = logging.getLogger(__name__)

_NAME = re.compile(r"(?P<theme>[a-z][a-z0-9_]{0,62})/(?P<city>[0-9]{7})/[0-9]{8}T[0-9]{6}-[0-9a-f]{8}\.tif")


def raster_file(stored: object, theme: str, city: str, raster_dir: Path) -> Path | None:
    """The absolute path of a row's COG when it is the server's own file; None (logged) otherwise."""
    root = raster_dir.resolve()
    problem = _problem(stored, theme, city, root)
    name = _relative(stored, root) if not problem and isinstance(stored, str) else None
    if problem or name is None:  # no problem means a str whose relative name exists: `name` tells the type checker
        # the stored value may be anything a caller wrote: its repr, cut short, is safe in a log line
        logger.error("refused the raster of %s/%s: %s (catalogue path %.200r)", theme, city, problem, stored)
        return None
    return (root / name).resolve()


def _problem(stored: object, theme: str, city: str, root: Path) -> str | None:
    if not isinstance(stored, str) or not stored or "\x00" in stored:
        return "no usable path"
    if not sqlfiles.is_city(city):
        return "not a TERYT code"
    name = _relative(stored, root)
    if name is None:
        return "an absolute path outside the raster folder"
    found = _NAME.fullmatch(name)
    if not found or found["theme"] != theme or found["city"] != city:
        return f"not a name of the form {theme}/{city}/<YYYYmmddTHHMMSS>-<8 hex>.tif"
    try:
        real = (root / name).resolve(strict=True)
    except (OSError, RuntimeError):  # missing, or a loop of links
        return "no such file"
    if not real.is_relative_to(root):
        return "a link that leaves the raster folder"
    if not real.is_file():
        return "not a regular file"
    return None


def _relative(stored: str, root: Path) -> str | None:
    """The stored name relative to the raster folder; an absolute (legacy) path only if it lies inside it."""
    path = Path(stored)
    if not path.is_absolute():
        return stored
    try:
        return path.resolve().relative_to(root).as_posix()
    except (ValueError, OSError, RuntimeError):
        return None
