"""The geoportal page (/mapa) and pygeoapi's pages in real headless Chromium with the network blocked.

Every host but 127.0.0.1 resolves to nothing, as on an intranet with no internet: the pages must load
their scripts and styles from sdi itself, and the map must draw from sdi's own WMS.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import requests
from rasterio.io import MemoryFile

from conftest import sample_api


@pytest.fixture(scope="module")
def site(server_url, tmp_path_factory):
    with sample_api(server_url, tmp_path_factory.mktemp("geoportal")) as (base, _):
        yield base


def _chromium(args: list[str], tmp_path) -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "chromium is not installed: run `make test-system`"
    cmd = [
        found,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--virtual-time-budget=10000",
        "--window-size=1200,800",
        *args,
    ]
    return subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=180).stdout


@pytest.mark.parametrize(
    "path",
    [
        "/mapa",
        "/",
        "/collections",
        "/collections/roads",
        "/collections/roads/items",
        "/collections/roads/items/1",
        "/openapi",
    ],
)
def test_no_page_refers_to_another_host(site, path):
    page = requests.get(site + path, headers={"Accept": "text/html"}, timeout=30).text
    # what the browser loads by itself: scripts, images, stylesheets and icons (plain links are not loads)
    loads = re.findall(r'<(?:script|img)[^>]*\ssrc="(https?://[^"]*)"', page)
    # a <link> is loaded only as a stylesheet, an icon or a preload; rel="about" etc. are plain links
    loads += [
        href
        for rel, href in re.findall(r'<link[^>]*\srel="([^"]*)"[^>]*\shref="(https?://[^"]*)"', page)
        if {"stylesheet", "icon", "preload", "modulepreload"} & set(rel.split())
    ]
    foreign = {u for u in loads if not u.startswith(site)}
    assert not foreign, foreign


def test_the_map_draws_the_layers_offline_and_the_search_finds_a_street(site, tmp_path):
    dom = _chromium(["--dump-dom", f"{site}/mapa?q=%C5%9Awi%C4%99tokrzyska"], tmp_path)
    assert 'data-ready="1"' in dom, "the page's script did not run (an asset missing?)"
    assert "ul. Świętokrzyska" in dom, "the search found nothing"
    assert "gminna / municipal" in dom, "the legend from the WMS is missing"
    assert "leaflet-tile-loaded" in dom, "no map tile loaded"
    png = tmp_path / "mapa.png"
    _chromium([f"--screenshot={png}", f"{site}/mapa"], tmp_path)
    with MemoryFile(png.read_bytes()) as mem, mem.open() as img:
        rgb = img.read()[:3, 80:, 330:]  # the map, right of the panel and below the header
    colours = {tuple(px) for px in rgb.reshape(3, -1).T[::7]}
    assert len(colours) > 50, "the map is blank"
    assert (242, 197, 0) in colours or any(abs(r - 242) < 8 and abs(g - 197) < 8 and b < 30 for r, g, b in colours), (
        "the district road is not drawn in its style's yellow"
    )


def test_openapi_page_renders_swagger_offline(site, tmp_path):
    dom = _chromium(["--dump-dom", f"{site}/openapi"], tmp_path)
    assert "swagger-ui" in dom and "opblock" in dom, "Swagger UI did not render"
