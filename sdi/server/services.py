"""The services that run beside the API behind the one nginx front: each its own process, on its own socket.

pygeoapi's gunicorn workers stay read-only and answer OGC API requests. Services that cannot share their
venv or process model (pycsw, QGIS Server, analysis jobs, uploads) run as processes of their own; nginx
mounts each under its own path on the same host and port. A service module offers one function

    def service(ctx: ServiceContext) -> Service | None     # None: not available here (say why in the log)

and is listed in SERVICES below; `sdi serve` starts every available one, supervises it like gunicorn,
and tells it when the catalogue changed (`on_change`, run in the serve parent as the owner).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sdi.core.settings import Settings
from sdi.server.host_user import HostUser

logger = logging.getLogger(__name__)

#: "module:function" of each service, in the order nginx lists their locations. Add yours here.
SERVICES: list[str] = [
    "sdi.server.geoportal:service",  # the geoportal page at /mapa and the vendored assets at /vendor/ (no CDN)
    "sdi.server.wms:service",  # QGIS Server at /wms, which the geoportal's map draws from
    "sdi.server.csw:service",  # pycsw at /csw; ISO records, DCAT and Atom at /metadata/, GeoPackages at /downloads/
    "sdi.analysis.service:service",  # OGC API Processes at /analysis/ and the analysis job runner (issue 21)
    "sdi.remote.upload:service",  # remote loads at /uploads/ with a city's load token (issue 22)
]


@dataclass
class ServiceContext:
    """What a service needs to know about this `sdi serve`."""

    settings: Settings
    run_dir: Path  # a private folder for sockets (short path: 107 bytes at most for a socket)
    public_url: str  # e.g. http://127.0.0.1:5000, as clients see the front
    user: HostUser | None  # the OS user network-facing processes run as (None: the caller)
    reader_url: str  # the API's read-only database login


@dataclass
class Service:
    """One process behind the front, and the nginx location block(s) that reach it."""

    name: str
    command: list[str]
    nginx: str  # location blocks, inserted verbatim inside `server { }`
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    as_user: bool = True  # run as the API's OS user when root (False: stays root)
    on_change: Callable[[], object] | None = None  # the catalogue changed: regenerate what the service serves


def available(ctx: ServiceContext) -> list[Service]:
    """Every service that can run here; one that fails to set up is logged and left out, never fatal."""
    found = []
    for spec in SERVICES:
        module, _, func = spec.partition(":")
        try:
            made = getattr(importlib.import_module(module), func)(ctx)
        except Exception as exc:  # noqa: BLE001 -- one broken service must not take the API down with it
            logger.error("service %s not started: %s", spec, exc)
            continue
        if made is not None:
            found.append(made)
    return found
