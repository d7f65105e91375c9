"""QGIS 3.22 opens the art. 13f result layer styled: from PostGIS (its default style in public.layer_styles, and the
shipped styles/access_standards.qml) and from OGC API Features (the project `sdi serve` hands out at
/qgis-project?city=TERYT). QGIS runs headless in its own process (Debian's /usr/bin/python3, the only Python with the
bindings); the renderer itself sorts the features into its classes, and a rendered map has the class colours.

The hand-made town of tests/test_analysis.py: P1 and P2 miss the school, P3 the kindergarten (all `not_met`),
P4 has no street within 500 m (`unreachable`); none meets every standard. By distance class (the styles'
classification, migration 0017) the three are `not_met_far`: each has a distance beyond 1.5x its limit.
"""

from __future__ import annotations

import json
import os
import subprocess
import zipfile

import pytest
import requests
import test_analysis
from psycopg.conninfo import conninfo_to_dict
from rasterio.io import MemoryFile
from test_analysis import CITY, _run, load_town
from test_analysis_wms import _colours
from test_qgis import PROBE, QGIS_PYTHON, _has_qgis, probe

from sdi.core.catalogue import open_catalogue
from sdi.server.qgis_project import install_styles

from conftest import ROOT, running_api

pgr_settings = test_analysis.pgr_settings  # the fixture: the test database with pgRouting
pytestmark = pytest.mark.skipif(not _has_qgis(), reason="QGIS is installed by `make test` (python3-qgis)")
EXPECTED = {"met_half": 0, "met": 0, "not_met_near": 0, "not_met_far": 3, "unreachable": 1}

# Run by /usr/bin/python3 with argv: PostGIS URI, QML path, PNG path. Prints one JSON line.
_POSTGIS_PROBE = """
import json, sys
from qgis.core import (QgsApplication, QgsMapRendererSequentialJob, QgsMapSettings, QgsProject,
                       QgsRenderContext, QgsVectorLayer)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor

def describe(layer):
    renderer = layer.renderer()
    context = QgsRenderContext()
    renderer.startRender(context, layer.fields())
    labels = {c.label(): c.value() for c in renderer.categories()} if renderer.type() == "categorizedSymbol" else {}
    keys = {item.ruleKey(): item.label() for item in renderer.legendSymbolItems()}
    counts = {str(v): 0 for v in labels.values()}
    for feature in layer.getFeatures():
        for key in renderer.legendKeysForFeature(feature, context):
            counts[str(labels[keys[key]])] += 1
    renderer.stopRender(context)
    return {"renderer": renderer.type(), "attr": getattr(renderer, "classAttribute", lambda: None)(),
            "counts": counts}

app = QgsApplication([], False)
app.initQgis()
layer = QgsVectorLayer(sys.argv[1], "access_standards", "postgres")
out = {"valid": layer.isValid(), "features": layer.featureCount(), "from_database": describe(layer)}
message, ok = layer.loadNamedStyle(sys.argv[2])
out["shipped"] = {"loaded": ok, **describe(layer)}
QgsProject.instance().addMapLayer(layer)
settings = QgsMapSettings()
settings.setLayers([layer])
settings.setDestinationCrs(layer.crs())
extent = layer.extent()
extent.scale(1.1)
settings.setExtent(extent)
settings.setOutputSize(QSize(400, 400))
settings.setBackgroundColor(QColor(255, 255, 255, 0))
job = QgsMapRendererSequentialJob(settings)
job.start()
job.waitForFinished()
job.renderedImage().save(sys.argv[3], "PNG")
print(json.dumps(out))
QgsProject.instance().removeAllMapLayers()  # exitQgis() crashes with layers still open
app.exitQgis()
"""


def _rgb_drawn(png: bytes) -> set[tuple[int, int, int]]:
    """The distinct colours of a PNG's painted pixels (alpha > 0)."""
    with MemoryFile(png) as mem, mem.open() as img:  # a PNG: rasterio warns that it has no georeference
        rgba = img.read()
    return {tuple(int(v) for v in px) for px in rgba[:3, rgba[3] > 0].T}


def test_qgis_opens_the_postgis_result_layer_with_its_style_and_classes(pgr_settings, tmp_path):
    load_town(tmp_path / "town", pgr_settings)
    _run(pgr_settings, optional={"kindergarten": 800})
    with open_catalogue(pgr_settings) as conn:
        assert "access_standards" in install_styles(conn, pgr_settings)  # as `sdi serve` and `sdi init` do
    c = conninfo_to_dict(pgr_settings.database_url)
    uri = (
        f"host={c['host']} port={c['port']} dbname={c['dbname']} user={c['user']} password={c['password']}"
        " key='fid' srid=2180 type=MultiPolygon checkPrimaryKeyUnicity='0' table=\"data\".\"access_standards\" (geom)"
    )
    png = tmp_path / "access.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": "/tmp"}
    done = subprocess.run(
        [QGIS_PYTHON, "-c", _POSTGIS_PROBE, uri, str(ROOT / "styles" / "access_standards.qml"), str(png)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["valid"] and report["features"] == 4
    for style in ("from_database", "shipped"):  # the database's default style, then the file loaded over it
        got = report[style]
        assert got["renderer"] == "categorizedSymbol" and got["attr"] == "distance_class", (style, got)
        assert {k: v for k, v in got["counts"].items() if k in EXPECTED} == EXPECTED, (style, got)
    assert report["shipped"]["loaded"]
    drawn = _rgb_drawn(png.read_bytes())
    colours = _colours("access_standards")
    assert len(drawn) > 1 and colours["not_met_far"] in drawn and colours["unreachable"] in drawn, sorted(drawn)[:10]
    assert not {colours["met"], colours["met_half"], colours["not_met_near"]} & drawn


def test_the_api_project_opens_the_result_layer_over_ogc_api_features_styled(pgr_settings, db_url, tmp_path):
    load_town(tmp_path / "town", pgr_settings)
    _run(pgr_settings, optional={"kindergarten": 800})
    with running_api(db_url, tmp_path / "home") as base:
        qgz = tmp_path / "sdi.qgz"
        qgz.write_bytes(requests.get(f"{base}/qgis-project", params={"city": CITY}, timeout=120).content)
        with zipfile.ZipFile(qgz) as z:
            assert "typename='access_standards'" in z.read("sdi.qgs").decode()
        png = tmp_path / "project.png"
        assert PROBE.exists()
        report = probe("project", str(qgz), str(png))
    results = report["groups"]["Standardy dostępności (art. 13f) / Access standards (art. 13f)"]
    assert results == [
        "Dostępność – działki / Access – parcels",
        "Dostępność – podsumowanie obszarów / Access – area summaries",
    ]
    layer = report["layers"]["sdi_layer_access_standards"]
    assert layer["valid"] and layer["provider"] == "OAPIF" and layer["count"] == 4, layer
    assert layer["renderer"] == "categorizedSymbol" and layer["classes"] == 6  # five distance classes, other
    summary = report["layers"]["sdi_layer_access_summary"]
    assert summary["valid"] and summary["count"] == 3  # the gmina and its two precincts
    # the parcels not met, far from the limits, in the style's red at its opacity 0.75 over the white background
    red = tuple(round(0.75 * v + 0.25 * 255) for v in _colours("access_standards")["not_met_far"])
    assert any(all(abs(a - b) <= 12 for a, b in zip(px, red, strict=True)) for px in _rgb_drawn(png.read_bytes()))
