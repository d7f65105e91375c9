"""Every service beside the API answers through the one nginx front, as `make demo` serves them.

Each service has tests of its own; this one is the demo's checklist end to end: the API, the map page and its
vendored scripts, the WMS, the catalogue, the download feed and files, and the analysis processes, all on one
host and port. The analysis runner once answered every request with a 502 through nginx (wsgiref indexed a unix
socket's empty peer address), which its own tests, calling the WSGI app directly, could not see.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import pytest
import requests

from conftest import load_sample, running_api

_DOWNLOAD = "/downloads/roads/roads_2699011.gpkg"
_PATHS = [
    ("/collections?f=json", "application/json"),
    ("/collections/roads/items?f=json", "application/geo+json"),
    ("/mapa", "text/html"),
    ("/vendor/leaflet/dist/leaflet.js", "javascript"),
    ("/wms?SERVICE=WMS&REQUEST=GetCapabilities", "xml"),
    ("/csw?service=CSW&version=2.0.2&request=GetCapabilities", "xml"),
    ("/metadata/atom.xml", "xml"),
    ("/metadata/catalogue.jsonld", ""),
    (_DOWNLOAD, ""),
    ("/analysis/processes", "application/json"),
]


@pytest.fixture(scope="module")
def front(server_url, tmp_path_factory):
    from conftest import fresh_database

    # a folder of its own: pytest re-locks its basetemp at each session start, which the workers pass through
    home = Path(tempfile.mkdtemp(prefix="sdi-front-"))
    home.chmod(0o755)
    try:
        with fresh_database(server_url) as db_url:
            load_sample(tmp_path_factory.mktemp("front"), db_url)
            with running_api(db_url, home / "home") as base:
                # the download files are written beside the running server: wait for them, not for the API
                deadline = time.monotonic() + 90
                while requests.head(base + _DOWNLOAD, timeout=10).status_code != 200:
                    assert time.monotonic() < deadline, "the bulk download was never written"
                    time.sleep(0.5)
                yield base
    finally:
        shutil.rmtree(home, ignore_errors=True)


@pytest.mark.parametrize(("path", "kind"), _PATHS)
def test_every_service_answers_through_the_front(front, path, kind):
    answer = requests.get(front + path, timeout=60)
    assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
    assert kind in answer.headers.get("Content-Type", ""), (path, answer.headers.get("Content-Type"))
    assert answer.content, path
