"""Secrets never reach a log: tokens and passwords masked in every line `sdi serve` and its children write.

A token can reach the API as `?access_token=…`, and a client may spell the parameter's name as it likes:
`access%5Ftoken`, `%61ccess_token`, `ACCESS_TOKEN`, twice. Matching the literal text `access_token=` misses
those, so names are *parsed*: split at `&`/`;`, percent-decoded (repeatedly, so that double encoding does
not hide one either) and compared case-insensitively. The same check runs on gunicorn's access log,
on its error log (which writes the full URL of a request that failed with a 500, and tracebacks), and on
every line nginx and gunicorn print, which the `sdi serve` parent passes on (sdi.server.serving).
"""

from __future__ import annotations

import logging
import re
from urllib.parse import quote, unquote_plus

from gunicorn import glogging

from sdi.server.access import token_from_query

#: Parameter names whose values are secrets, compared after decoding and lower-casing.
SECRET_NAMES = frozenset({"access_token", "token", "api_key", "apikey", "password", "passwd"})
MASK = "***"

# name=value anywhere in free text: a name is URL characters (percent-escapes included); a value ends at
# a separator, a blank or a quote (a request line in a log is quoted).
_PAIR = re.compile(r"(?P<name>[\w%.+~-]+)=(?P<value>[^\s&;#\"'<>]*)")
# A secret in a Python repr or JSON, as a traceback may print it: 'access_token': 'abc'
_REPR = re.compile(r"(?P<name>[\w%.+~-]+)(?P<sep>['\"]?\s*[:,]\s*['\"])(?P<value>[^'\"]+)")
# postgresql://user:password@host: the password of a connection URL
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-z][a-z0-9+.-]*://[^\s:/@]*:)(?P<value>[^\s@/]+)(?=@)")


def is_secret_name(name: str) -> bool:
    """Is this query parameter name, however it is encoded or cased, one whose value is a secret?"""
    for _ in range(4):  # a few rounds: %2561 -> %61 -> a
        decoded = unquote_plus(name)
        if decoded == name:
            break
        name = decoded
    return name.strip().lower() in SECRET_NAMES


def redact_query(query: str) -> str:
    """A query string with every secret parameter's value masked; everything else byte for byte."""
    parts = re.split(r"([&;])", query)
    for i in range(0, len(parts), 2):
        name, eq, value = parts[i].partition("=")
        if eq and value and is_secret_name(name):
            parts[i] = f"{name}={MASK}"
    return "".join(parts)


def redact(text: str) -> str:
    """Free text (a request line, a URL, a traceback) with secrets masked wherever they stand."""
    if "=" in text:
        text = _PAIR.sub(lambda m: f"{m['name']}={MASK}" if m["value"] and is_secret_name(m["name"]) else m[0], text)
    if "'" in text or '"' in text:
        text = _REPR.sub(
            lambda m: f"{m['name']}{m['sep']}{MASK}" if is_secret_name(m["name"].strip("'\"")) else m[0], text
        )
    if "://" in text:
        text = _URL_PASSWORD.sub(lambda m: f"{m['head']}{MASK}", text)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that masks secrets in a record's message, arguments and traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed log call: keep what can be shown
            message = str(record.msg)
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class RedactingLogger(glogging.Logger):
    """gunicorn's logger with secrets masked in the access log and the error log alike."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            if not any(isinstance(f, RedactingFilter) for f in log.filters):  # setup runs again on reload
                log.addFilter(RedactingFilter())

    def atoms(self, resp, req, environ, request_time) -> dict:
        atoms = super().atoms(resp, req, environ, request_time)
        # The token exactly as the API reads it (sdi.server.access): wherever its value shows up, it is masked too.
        token = token_from_query(environ.get("QUERY_STRING", "")) if environ else None
        for key, value in atoms.items():
            if isinstance(value, str) and token and len(token) >= 8:
                value = value.replace(token, MASK).replace(quote(token, safe=""), MASK)
            if isinstance(value, str):
                # "q" is the bare query string; the others (request line, referer, headers, environ) are text
                atoms[key] = redact_query(value) if key == "q" else redact(value)
        for header in ("{authorization}i", "{cookie}i", "{http_authorization}e", "{http_cookie}e"):
            if atoms.get(header):
                atoms[header] = MASK
        return atoms
