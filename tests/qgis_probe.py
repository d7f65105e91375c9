"""Open sdi's output in real QGIS and report what QGIS sees, as JSON on stdout.

Run by tests/test_qgis.py with Debian's /usr/bin/python3, the only Python with the QGIS bindings:
    QT_QPA_PLATFORM=offscreen /usr/bin/python3 tests/qgis_probe.py project OUT.qgz [PNG]
    QT_QPA_PLATFORM=offscreen /usr/bin/python3 tests/qgis_probe.py postgis "dbname=... table=..."
    QT_QPA_PLATFORM=offscreen /usr/bin/python3 tests/qgis_probe.py dialog http://HOST:PORT PNG
    QT_QPA_PLATFORM=offscreen /usr/bin/python3 tests/qgis_probe.py oapif "url='...' typename='...' ..."
"""

import json
import sys
import time

from qgis.core import (
    QgsApplication,
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsFeatureRequest,
    QgsMapLayerType,
    QgsMapRendererSequentialJob,
    QgsMapSettings,
    QgsProject,
    QgsRectangle,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor

POLAND_CRS84 = QgsRectangle(14.0, 49.0, 24.2, 55.0)


def project(path: str, png: str | None) -> dict:
    p = QgsProject.instance()
    ok = p.read(path)
    view = p.viewSettings().defaultViewExtent()
    report = {
        "read": ok,
        "crs": p.crs().authid(),
        "title": p.title(),
        "view_extent": [view.xMinimum(), view.yMinimum(), view.xMaximum(), view.yMaximum()],
        "groups": {g.name(): [c.name() for c in g.children()] for g in p.layerTreeRoot().children()},
        "layers": {},
    }
    for layer in p.mapLayers().values():
        if layer.type() == QgsMapLayerType.RasterLayer:
            report["layers"][layer.id()] = _raster(layer)
            continue
        features = list(
            layer.getFeatures(
                QgsFeatureRequest().setFilterRect(
                    QgsCoordinateTransform(
                        QgsCoordinateReferenceSystem("OGC:CRS84"), layer.crs(), p
                    ).transformBoundingBox(POLAND_CRS84)
                )
            )
        )
        renderer = layer.renderer()
        report["layers"][layer.id()] = {
            "name": layer.name(),
            "valid": layer.isValid(),
            "provider": layer.providerType(),
            "renderer": renderer.type() if renderer else None,
            "classes": len(renderer.categories()) if renderer and renderer.type() == "categorizedSymbol" else 0,
            "labels": layer.labelsEnabled(),
            "subset": layer.subsetString(),
            "count": len(features),
            "cities": sorted({str(f["city"]) for f in features}),
            "fids": sorted(int(f["fid"]) for f in features),
            "source": layer.source(),
        }
    if png:
        _render(p, view, png)
    return report


def _raster(layer) -> dict:
    """A raster layer as QGIS sees it, and how much of it QGIS paints when drawn alone over its extent."""
    report = {
        "name": layer.name(),
        "valid": layer.isValid(),
        "provider": layer.providerType(),
        "source": layer.source(),
        "type": "raster",
    }
    if not layer.isValid():
        return report
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(layer.crs())
    settings.setExtent(layer.extent())
    extent = layer.extent()
    width, height = 200, max(1, round(200 * extent.height() / extent.width()))  # the layer's own shape
    settings.setOutputSize(QSize(width, height))
    settings.setBackgroundColor(QColor(255, 255, 255, 0))
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage()
    samples = [(x, y) for x in range(0, width, 4) for y in range(0, height, 4)]
    painted = sum(1 for x, y in samples if image.pixelColor(x, y).alpha() > 0)
    report.update(
        crs=layer.crs().authid(),
        width=layer.width(),
        height=layer.height(),
        bands=layer.bandCount(),
        painted_share=painted / len(samples),
        renderer=layer.renderer().type(),
    )
    return report


def _render(p: QgsProject, view: QgsRectangle, png: str) -> None:
    settings = QgsMapSettings()
    settings.setLayers([node.layer() for node in p.layerTreeRoot().findLayers() if node.isVisible()])
    settings.setDestinationCrs(p.crs())
    settings.setExtent(view)
    settings.setOutputSize(QSize(1000, 700))
    settings.setBackgroundColor(QColor("#ffffff"))
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    job.renderedImage().save(png, "JPG" if png.endswith(".jpg") else "PNG", 85)


def dialog(url: str, png: str) -> dict:
    """What a planner does by hand: Layer > Add WFS / OGC API Features, a connection to the API, Connect."""
    from qgis.core import QgsSettings
    from qgis.gui import QgsGui
    from qgis.PyQt.QtWidgets import QPushButton, QTreeView

    settings = QgsSettings()
    settings.setValue("qgis/connections-wfs/sdi/url", url)
    settings.setValue("qgis/connections-wfs/sdi/version", "OGC_API_FEATURES")
    settings.setValue("qgis/connections-wfs/selected", "sdi")
    widget = QgsGui.sourceSelectProviderRegistry().providerByName("WFS").createDataSourceWidget()
    widget.resize(1000, 620)
    widget.show()
    widget.findChild(QPushButton, "btnConnect").click()
    model = widget.findChild(QTreeView).model()
    deadline = time.monotonic() + 30
    while model.rowCount() == 0 and time.monotonic() < deadline:  # the listing arrives asynchronously
        QgsApplication.processEvents()
        time.sleep(0.05)
    for _ in range(20):
        QgsApplication.processEvents()
    widget.grab().save(png, "PNG")
    names = sorted(model.index(row, 1).data() for row in range(model.rowCount()))
    widget.close()
    return {"collections": names}


def postgis(uri: str, provider: str = "postgres") -> dict:
    layer = QgsVectorLayer(uri, "layer", provider)
    renderer = layer.renderer()
    report = {
        "valid": layer.isValid(),
        "count": len(list(layer.getFeatures())),
        "renderer": renderer.type() if renderer else None,
        "attr": renderer.classAttribute() if renderer and renderer.type() == "categorizedSymbol" else None,
    }
    QgsProject.instance().addMapLayer(layer)
    return report


if __name__ == "__main__":
    app = QgsApplication([], sys.argv[1] == "dialog")  # only the dialog needs widgets
    app.initQgis()
    if sys.argv[1] == "project":
        result = project(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)
    elif sys.argv[1] == "dialog":
        result = dialog(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "oapif":
        result = postgis(sys.argv[2], "OAPIF")
    else:
        result = postgis(sys.argv[2])
    print(json.dumps(result))
    QgsProject.instance().removeAllMapLayers()  # exitQgis() crashes while layers are still open
    app.exitQgis()
