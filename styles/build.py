"""Build styles/<theme>.qml and styles/<theme>.sld from styles/symbology.yaml, with QGIS itself.

QGIS writes the files, so they are exactly what QGIS reads (and its own SLD export). The classes come
from the theme's code list in config/codelists: one per code, in its order, labelled "polski / English".

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 styles/build.py [--check]

Debian's python3 is the one with the QGIS bindings (`apt-get install python3-qgis`). With --check
nothing is written: the exit code says whether the committed files are what the spec gives.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path

import yaml

# Qt writes XML attributes in hash order; a fixed seed makes the files the same on every run.
os.environ.setdefault("QT_HASH_SEED", "0")
from qgis.core import (
    QgsApplication,
    QgsCategorizedSymbolRenderer,
    QgsFillSymbol,
    QgsLineSymbol,
    QgsMarkerSymbol,
    QgsPalLayerSettings,
    QgsProject,
    QgsRendererCategory,
    QgsSimpleFillSymbolLayer,
    QgsSimpleLineSymbolLayer,
    QgsSimpleMarkerSymbolLayer,
    QgsSimpleMarkerSymbolLayerBase,
    QgsSingleSymbolRenderer,
    QgsSvgMarkerSymbolLayer,
    QgsTextBufferSettings,
    QgsTextFormat,
    QgsUnitTypes,
    QgsVectorLayer,
    QgsVectorLayerSimpleLabeling,
)
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtGui import QColor

ROOT = Path(__file__).resolve().parent.parent
STYLES, CONFIG = ROOT / "styles", ROOT / "config"
# Memory-layer field types for the schema's types, so that QGIS writes the right literal types.
FIELD_TYPES = {
    "string": "string",
    "integer": "integer",
    "number": "double",
    "boolean": "boolean",
    "date": "date",
    "datetime": "datetime",
}
SHAPES = {
    "circle": QgsSimpleMarkerSymbolLayerBase.Circle,
    "square": QgsSimpleMarkerSymbolLayerBase.Square,
    "triangle": QgsSimpleMarkerSymbolLayerBase.Triangle,
    "diamond": QgsSimpleMarkerSymbolLayerBase.Diamond,
}


def main(check: bool) -> int:
    spec = yaml.safe_load((STYLES / "symbology.yaml").read_text(encoding="utf-8"))
    stale = []
    with tempfile.TemporaryDirectory() as tmp:
        for theme, style in spec.items():
            layer = _layer(theme, style)
            for suffix, save in ((".qml", layer.saveNamedStyle), (".sld", layer.saveSldStyle)):
                out = Path(tmp) / f"{theme}{suffix}"
                save(str(out))
                target = STYLES / out.name
                text = out.read_text(encoding="utf-8")
                if suffix == ".sld" and "classify_expression" in style:
                    text = _sld_starts_with(text, style)
                if not target.exists() or target.read_text(encoding="utf-8") != text:
                    stale.append(target.name)
                    if not check:
                        target.write_text(text, encoding="utf-8")
            QgsProject.instance().addMapLayer(layer)
    QgsProject.instance().removeAllMapLayers()  # before exitQgis, which crashes with layers still open
    if stale:
        print(("out of date: " if check else "written: ") + ", ".join(sorted(stale)))
    return 1 if check and stale else 0


def _sld_starts_with(text: str, style: dict) -> str:
    """SLD has no expressions: a class by the first of a field's comma-separated values becomes a LIKE."""
    expression = style["classify_expression"]
    pattern = re.compile(
        r"<ogc:PropertyIsEqualTo>\s*<ogc:PropertyName>"
        + re.escape(expression)
        + r"</ogc:PropertyName>\s*<ogc:Literal>([^<]*)</ogc:Literal>\s*</ogc:PropertyIsEqualTo>"
    )
    like = (
        '<ogc:PropertyIsLike wildCard="%" singleChar="_" escape="\\"><ogc:PropertyName>{}</ogc:PropertyName>'
        "<ogc:Literal>{}%</ogc:Literal></ogc:PropertyIsLike>"
    )
    text, count = pattern.subn(lambda m: like.format(style["classify"], m.group(1)), text)
    if not count:
        raise SystemExit(f"cannot find the classes of {style['classify_expression']} in the SLD")
    return text


def _layer(theme: str, style: dict) -> QgsVectorLayer:
    schema = yaml.safe_load((CONFIG / "schemas" / f"{theme}.yaml").read_text(encoding="utf-8"))
    kind = schema["geometry"].replace("Multi", "")
    fields = "".join(
        f"&field={name}:{FIELD_TYPES.get(f.get('type'), 'string')}" for name, f in schema["fields"].items()
    )
    layer = QgsVectorLayer(f"{kind}?crs=EPSG:2180&field=fid:integer&field=city:string{fields}", theme, "memory")
    if "single" in style:
        layer.setRenderer(QgsSingleSymbolRenderer(_symbol(kind, style["single"], style)))
    else:
        layer.setRenderer(_categorised(kind, style, schema["fields"][style["classify"]]))
    if "label" in style:
        _label(layer, kind, style["label"])
    return layer


def _categorised(kind: str, style: dict, field: dict) -> QgsCategorizedSymbolRenderer:
    codes = {}
    if field.get("codelist"):
        codelist = yaml.safe_load((CONFIG / "codelists" / f"{field['codelist']}.yaml").read_text(encoding="utf-8"))
        codes = codelist["codes"]
    categories = []
    if style.get("colors_from_codelist"):
        classes = {code: {"fill": c["color"], "outline": style["outline"]} for code, c in codes.items() if "color" in c}
    else:
        classes = style["classes"]
    for value, symbol in classes.items():
        label = style.get("class_labels", {}).get(value) or _label_of(codes.get(value), value)
        categories.append(QgsRendererCategory(value, _symbol(kind, symbol, style), label))
    # The empty value is QGIS's "all other values" class: codes outside the list, and NULL.
    categories.append(QgsRendererCategory("", _symbol(kind, style["other"], style), "inne / other"))
    return QgsCategorizedSymbolRenderer(style.get("classify_expression", style["classify"]), categories)


def _label_of(code: dict | None, value: str) -> str:
    if not code:
        return value
    return code["pl"] if code["pl"] == code["en"] else f"{code['pl']} / {code['en']}"


def _symbol(kind: str, s: dict, style: dict):
    if kind == "LineString":
        line = QgsSimpleLineSymbolLayer(QColor(s["color"]), s["width"], Qt.DashLine if s.get("dash") else Qt.SolidLine)
        line.setPenCapStyle(Qt.RoundCap)
        line.setPenJoinStyle(Qt.RoundJoin)
        return _with_layers(QgsLineSymbol(), line)
    if kind == "Polygon":
        fill = QgsSimpleFillSymbolLayer(
            QColor(s["fill"]), Qt.SolidPattern, QColor(s["outline"]), Qt.SolidLine, s.get("outline_width", 0.26)
        )
        symbol = _with_layers(QgsFillSymbol(), fill)
        symbol.setOpacity(style.get("opacity", 1.0))
        return symbol
    size = s["size"]
    if "svg" in s:
        # A white disc under the coloured pictogram keeps it readable on any background.
        disc = _marker("circle", size * 1.25, "#ffffff", s["color"])
        svg = QgsSvgMarkerSymbolLayer(s["svg"], size)
        svg.setFillColor(QColor(s["color"]))
        svg.setStrokeColor(QColor(s["color"]))
        return _with_layers(QgsMarkerSymbol(), disc, svg)
    return _with_layers(QgsMarkerSymbol(), _marker(s.get("shape", "circle"), size, s["color"], "#ffffff"))


def _marker(shape: str, size: float, fill: str, stroke: str) -> QgsSimpleMarkerSymbolLayer:
    marker = QgsSimpleMarkerSymbolLayer(SHAPES[shape], size)
    marker.setColor(QColor(fill))
    marker.setStrokeColor(QColor(stroke))
    marker.setStrokeWidth(0.3)
    return marker


def _with_layers(symbol, *layers):
    """The symbol with these symbol layers in place of its default one (the symbol takes ownership)."""
    symbol.deleteSymbolLayer(0)
    for layer in layers:
        symbol.appendSymbolLayer(layer)
    return symbol


def _label(layer: QgsVectorLayer, kind: str, label: dict) -> None:
    settings = QgsPalLayerSettings()
    settings.fieldName = label["field"]
    settings.placement = {
        "LineString": QgsPalLayerSettings.Curved,
        "Point": QgsPalLayerSettings.AroundPoint,
        "Polygon": QgsPalLayerSettings.OverPoint,
    }[kind]
    settings.scaleVisibility = True
    settings.minimumScale = label["max_scale"]  # QGIS calls the most zoomed-out denominator the minimum
    settings.maximumScale = 1
    text = QgsTextFormat()
    text.setSize(8)
    text.setSizeUnit(QgsUnitTypes.RenderPoints)
    text.setColor(QColor("#202020"))
    buffer = QgsTextBufferSettings()
    buffer.setEnabled(True)
    buffer.setSize(0.8)
    buffer.setColor(QColor("#ffffff"))
    text.setBuffer(buffer)
    settings.setFormat(text)
    layer.setLabeling(QgsVectorLayerSimpleLabeling(settings))
    layer.setLabelsEnabled(True)


if __name__ == "__main__":
    app = QgsApplication([], False)
    app.initQgis()
    code = main("--check" in sys.argv)
    app.exitQgis()
    sys.exit(code)
