"""Build styles/<layer>.qml and .sld for the analysis results from styles/results.yaml, with QGIS itself.

The result layers are views, with no schema in config/schemas, so styles/build.py (which reads one per
theme) cannot build them; this uses its symbols, so both look alike.

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 styles/build_results.py [--check]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build import FIELD_TYPES, STYLES, _categorised, _label  # a sibling script; it sets QT_HASH_SEED
from qgis.core import QgsApplication, QgsProject, QgsVectorLayer


def main(check: bool) -> int:
    spec = yaml.safe_load((STYLES / "results.yaml").read_text(encoding="utf-8"))
    stale = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, style in spec.items():
            layer = _layer(name, style)
            for suffix, save in ((".qml", layer.saveNamedStyle), (".sld", layer.saveSldStyle)):
                out = Path(tmp) / f"{name}{suffix}"
                save(str(out))
                target, text = STYLES / out.name, out.read_text(encoding="utf-8")
                if not target.exists() or target.read_text(encoding="utf-8") != text:
                    stale.append(target.name)
                    if not check:
                        target.write_text(text, encoding="utf-8")
            QgsProject.instance().addMapLayer(layer)
    QgsProject.instance().removeAllMapLayers()  # before exitQgis, which crashes with layers still open
    if stale:
        print(("out of date: " if check else "written: ") + ", ".join(sorted(stale)))
    return 1 if check and stale else 0


def _layer(name: str, style: dict) -> QgsVectorLayer:
    kind = style["geometry"]
    fields = "".join(f"&field={f}:{FIELD_TYPES[t]}" for f, t in style["fields"].items())
    layer = QgsVectorLayer(f"{kind}?crs=EPSG:2180&field=fid:integer&field=city:string{fields}", name, "memory")
    layer.setRenderer(_categorised(kind, style, {}))
    if "label" in style:
        _label(layer, kind, style["label"])
    return layer


if __name__ == "__main__":
    app = QgsApplication([], False)
    app.initQgis()
    code = main("--check" in sys.argv)
    app.exitQgis()
    sys.exit(code)
