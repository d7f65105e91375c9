"""One error tree. Each error carries a one-line message for the user and a suggested fix.

Fatal errors (a bad file, a bad config, no database) stop a command. Per-feature problems are not
errors at all: they become rejects (see `sdi.loader.repair`), recorded with their reason.
"""

from __future__ import annotations


class SdiError(Exception):
    """Base of every error a user may see; `cli.py` turns it into one line, never a traceback."""

    exit_code = 1

    def __init__(self, message: str, fix: str | None = None):
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.message}: {self.fix}" if self.fix else self.message


def first_line(exc: BaseException) -> str:
    """The first line of an exception's text (GDAL and libpq write several), or its type's name."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class ConfigError(SdiError):
    """A settings value, schema or mapping file is wrong."""

    exit_code = 2


class InputError(SdiError):
    """A source file cannot be read or does not make sense (format, CRS, encoding, layer)."""

    exit_code = 3


class DatabaseError(SdiError):
    """The database cannot be reached, started or migrated."""

    exit_code = 4


class LoadError(SdiError):
    """A load failed while writing; the transaction was rolled back and nothing changed."""

    exit_code = 5


class ServeError(SdiError):
    """The API server cannot be configured or started."""

    exit_code = 6
