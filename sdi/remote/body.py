"""The upload service's request body: counted as it is read, written to a private file, and the service's
refusal (an HTTP status with one line and its fix), which the body's checks raise as the routes do.
"""

from __future__ import annotations

import os
from pathlib import Path

_CHUNK = 1024 * 1024


class Refusal(Exception):
    """A request refused before the pipeline runs: an HTTP status and one line with its fix."""

    def __init__(self, status: int, detail: str, fix: str | None = "", exit_code: int = 3):
        super().__init__(detail)
        self.status, self.detail, self.fix, self.exit_code = status, detail, fix, exit_code


class Counted:
    """The request body, counted: a refusal answered before the body was read must still read it, or nginx,
    which streams the body unbuffered, fails writing it and gives the client a 502 instead of our answer."""

    def __init__(self, stream):
        self.stream, self.read_bytes = stream, 0

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self.read_bytes += len(data)
        return data

    def drain(self, environ: dict, limit: int) -> None:
        try:
            left = min(int(environ.get("CONTENT_LENGTH") or 0), limit) - self.read_bytes
        except ValueError:
            return
        while left > 0 and (chunk := self.stream.read(min(_CHUNK, left))):
            left -= len(chunk)


def receive(environ: dict, path: Path, limit: int) -> Path:
    """Write exactly CONTENT_LENGTH bytes to `path` (created new, mode 600); refuse a long or cut body."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or -1)
    except ValueError:
        length = -1
    if length < 0:
        raise Refusal(411, "the upload has no Content-Length", "send the file with `sdi load FILE --server URL`")
    if length > limit:
        raise Refusal(
            413,
            f"the file is {length} bytes, over the server's {limit}",
            "split it, or ask the operator to raise SDI_MAX_UNZIPPED_MB",
        )
    stream, left = environ["wsgi.input"], length
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as out:
        while left > 0:
            chunk = stream.read(min(_CHUNK, left))
            if not chunk:
                raise Refusal(
                    400,
                    f"the upload ended after {length - left} of {length} bytes",
                    "send the file again (nothing was loaded)",
                )
            out.write(chunk)
            left -= len(chunk)
    return path
