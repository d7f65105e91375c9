"""The art. 13f results on the WMS and the geoportal page: a run published while `sdi serve` runs shows up, without
a load or a restart, as an API collection, as WMS layers (real QGIS Server 3.22, read with OWSLib) drawn in
their styles' colours, and in /mapa's layer list.

The hand-made town of tests/test_analysis.py: P1 and P2 miss the school, P3 the kindergarten, P4 has no street.
"""

from __future__ import annotations

import re
import time

import numpy as np
import requests
import test_analysis
from owslib.wms import WebMapService
from rasterio.io import MemoryFile
from test_analysis import CITY, _run, load_town

from conftest import ROOT, running_api

pgr_settings = test_analysis.pgr_settings  # the fixture: the test database with pgRouting
RESULTS = ["access_standards", "access_summary"]


def _colours(layer: str) -> dict[str, tuple[int, int, int]]:
    """The fill colour of each status class in styles/<layer>.qml, in the order of its categories."""
    text = (ROOT / "styles" / f"{layer}.qml").read_text(encoding="utf-8")
    values = re.findall(r'<category symbol="\d+" value="([^"]*)"', text)
    fills = re.findall(r'<Option type="QString" name="color" value="(\d+),(\d+),(\d+),255"/>', text)
    return {v: tuple(int(c) for c in rgb) for v, rgb in zip(values, fills, strict=False)}


def _until(check, seconds: float = 90.0):
    """Poll `check` until it answers something true (sdi serve polls the catalogue every 2 s)."""
    deadline = time.monotonic() + seconds
    while True:
        got = check()
        if got or time.monotonic() > deadline:
            return got
        time.sleep(1.0)


def _wms_layers(base: str, path: str = "/wms") -> set[str]:
    caps = requests.get(f"{base}{path}", params={"SERVICE": "WMS", "REQUEST": "GetCapabilities"}, timeout=60)
    assert caps.status_code == 200, caps.text[:500]
    return set(re.findall(r"<Name>([^<]+)</Name>", caps.text))


def test_a_run_appears_on_the_api_the_wms_and_the_map_page_without_a_restart(pgr_settings, db_url, tmp_path):
    load_town(tmp_path / "town", pgr_settings)
    with running_api(db_url, tmp_path / "home") as base:
        assert requests.get(f"{base}/collections/access_standards?f=json", timeout=30).status_code == 404
        assert not set(RESULTS) & _wms_layers(base) and "roads" in _wms_layers(base)
        _run(pgr_settings, optional={"kindergarten": 800})  # as `sdi analysis worker` does: it commits, no more
        # the API reloads at its next poll of the catalogue: the new collection, then the WMS and the page
        assert _until(
            lambda: requests.get(f"{base}/collections/access_standards?f=json", timeout=30).status_code == 200
        ), (tmp_path / "home" / "serve.log").read_text()[-3000:]
        assert _until(lambda: set(RESULTS) <= _wms_layers(base)), _wms_layers(base)
        assert set(RESULTS) | {"analysis"} <= _wms_layers(base, f"/wms/{CITY}")  # the city's own project too
        page = requests.get(f"{base}/mapa/config.json", timeout=30).json()
        assert page["groups"][0]["id"] == "analysis"  # on top of the other groups
        assert [layer["name"] for layer in page["groups"][0]["layers"]] == ["access_standards"]
        assert page["labels"]["access_standards"]["status"]["codes"]["not_met"]["en"] == "does not meet"
        classes = page["labels"]["access_standards"]["distance_class"]["codes"]
        assert classes["not_met_near"]["pl"] == "nie spełnia, do 1,5× progu"

        service = WebMapService(f"{base}/wms", version="1.3.0")
        layer = service["access_standards"]
        assert layer.title == "Dostępność – działki / Access – parcels" and "art. 13f" in layer.abstract
        assert {c.name for c in service["analysis"].children} == set(RESULTS)  # the group, on top of the tree
        west, south, east, north = layer.boundingBoxWGS84
        assert 14 < west < east < 24.2 and 49 < south < north < 55  # the town, inside Poland
        bbox = next(b[:4] for b in layer.crs_list if b[4] == "EPSG:2180")
        img = _getmap(service, "access_standards", bbox, 600)
        with MemoryFile(img.read()) as mem, mem.open() as png:
            rgba = png.read()  # a PNG: rasterio warns that it has no georeference
        drawn = rgba[:3, rgba[3] > 0].T
        assert len(drawn) > 20, "the result layer drew nothing"
        colours = _colours("access_standards")
        # the style draws with opacity 0.75 over a transparent map: the colour is kept, the alpha lowered
        seen = {tuple(int(v) for v in px) for px in np.unique(drawn, axis=0)}
        assert colours["not_met_far"] in seen and colours["unreachable"] in seen, (colours, sorted(seen)[:20])
        assert colours["met"] not in seen and colours["met_half"] not in seen  # no parcel meets every standard
        summary = _getmap(service, "access_summary", bbox, 300)
        assert summary.info()["Content-Type"].startswith("image/png")
        legend = requests.get(
            f"{base}/wms",
            params={
                "SERVICE": "WMS",
                "VERSION": "1.3.0",
                "REQUEST": "GetLegendGraphic",
                "LAYER": "access_standards",
                "FORMAT": "application/json",
            },
            timeout=30,
        ).json()
        titles = [s["title"] for node in legend["nodes"] for s in node.get("symbols", [])]
        assert "nie spełnia, ponad 1,5× progu / does not meet, beyond 1.5× the limit" in titles
        assert "nieosiągalna / unreachable" in titles


def _getmap(service, layer: str, bbox, size: int):
    """GetMap of one layer over `bbox` (EPSG:2180) as a transparent PNG, size x size pixels."""
    return service.getmap(
        layers=[layer], styles=[""], srs="EPSG:2180", bbox=bbox, size=(size, size), format="image/png", transparent=True
    )
