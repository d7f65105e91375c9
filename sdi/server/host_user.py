"""The OS user the API's workers run as: `sdi-api`, who can read what they serve and no secret.

When `sdi serve` runs as root, gunicorn's master stays root (it binds the socket and reloads) and its
workers, the part that parses what the network sends, switch to `sdi-api` (gunicorn --user/--group);
nginx's workers run as that user too. The user is created on first use (`useradd --system`).

What the workers must read is opened to that user alone, and no more:
- the generated pygeoapi folder (config, OpenAPI document, mosaic VRTs) gets the group `sdi-api`;
- the raster folder (COGs) gets an ACL entry `u:sdi-api:rX`, also as its default for files loaded later;
- each folder above them that the user could not pass gets `u:sdi-api:x` (pass through, not list), as
  pytest's and `mktemp -d`'s mode-700 folders need, and so does the Python interpreter when it lives in
  root's home (pyenv). `cluster.json` stays 0600 root: not readable.
When not root, everything runs as the caller, who can read its own secrets anyway.
"""

from __future__ import annotations

import logging
import os
import pwd
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from sdi.core.errors import ServeError

logger = logging.getLogger(__name__)

API_USER = "sdi-api"


@dataclass(frozen=True)
class HostUser:
    name: str
    uid: int
    gid: int


def api_user() -> HostUser | None:
    """The workers' OS user when running as root (created if missing); None means: the caller."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(API_USER)
    except KeyError:
        _create_user()
        entry = pwd.getpwnam(API_USER)
    return HostUser(API_USER, entry.pw_uid, entry.pw_gid)


def _create_user() -> None:
    cmd = [
        "useradd",
        "--system",
        "--user-group",
        "--no-create-home",
        "--home-dir",
        "/nonexistent",
        "--shell",
        "/usr/sbin/nologin",
        "--comment",
        "sdi API workers",
        API_USER,
    ]
    try:
        done = subprocess.run(cmd, check=False, capture_output=True, text=True)
    except OSError as exc:
        raise ServeError(f"cannot create the OS user {API_USER}: {exc}", "install the `passwd` package") from None
    if done.returncode not in (0, 9):  # 9: made meanwhile by another `sdi serve`
        raise ServeError(
            f"cannot create the OS user {API_USER}: {done.stderr.strip()}", f"create it yourself: {' '.join(cmd)}"
        )
    logger.warning("created the OS user %s for the API's workers", API_USER)


def open_to(user: HostUser, generated: Path, raster_dir: Path) -> None:
    """Let `user` read the generated pygeoapi folder and the raster folder, and reach both."""
    generated.mkdir(parents=True, exist_ok=True)
    raster_dir.mkdir(parents=True, exist_ok=True)
    for path in [generated, *generated.rglob("*")]:
        os.chown(path, 0, user.gid)
        # setgid folders: files written later (a reload's new config, VRTs) keep the group
        path.chmod(0o2750 if path.is_dir() else 0o640)
    _setfacl(["-R", "-m", f"u:{user.name}:rX", str(raster_dir)])
    _setfacl(["-d", "-m", f"u:{user.name}:rX", str(raster_dir)])
    # The interpreter and sdi's code too: a pyenv Python under /root (mode 700) is otherwise out of reach.
    code = [Path(sys.base_prefix), Path(sys.prefix), Path(__file__).resolve().parents[1]]
    blocked = {
        str(p)
        for target in (generated, raster_dir, *code)
        for p in (target, *target.parents)
        if target not in (generated, raster_dir) or p != target
        if p.is_dir() and not _passable(p, user)
    }
    if blocked:
        _setfacl(["-m", f"u:{user.name}:x", *sorted(blocked)])
        logger.info("let %s pass through (not list) %s", user.name, ", ".join(sorted(blocked)))


def open_run_dir(user: HostUser, folder: Path) -> None:
    """The socket and nginx's temporary files: the user's own folder, reachable by it."""
    os.chown(folder, user.uid, user.gid)
    folder.chmod(0o700)
    blocked = [str(p) for p in folder.parents if not _passable(p, user)]
    if blocked:
        _setfacl(["-m", f"u:{user.name}:x", *blocked])


def _passable(folder: Path, user: HostUser) -> bool:
    # Mode bits only: an ACL entry granted before is granted again, which setfacl does idempotently.
    st = folder.stat()
    mode = st.st_mode
    if st.st_uid == user.uid:
        return bool(mode & stat.S_IXUSR)
    if st.st_gid == user.gid:
        return bool(mode & stat.S_IXGRP)
    return bool(mode & stat.S_IXOTH)


def _setfacl(args: list[str]) -> None:
    if shutil.which("setfacl") is None:
        raise ServeError(
            "setfacl is not installed: the API's workers could not reach the files they serve",
            "run `make setup` (it installs the Debian package acl)",
        )
    done = subprocess.run(["setfacl", *args], check=False, capture_output=True, text=True)
    if done.returncode != 0:
        raise ServeError(
            f"cannot give {API_USER} access: {done.stderr.strip().splitlines()[-1]}",
            "use a file system with ACLs for SDI_HOME, or run sdi serve as a normal user",
        )
