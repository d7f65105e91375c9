"""A realistic BDOT10k county package, written for the tests: a zip of one GML file per layer, as GUGiK ships it.

Powiat bolesławiecki (0201) with two gminas side by side: the town Bolesławiec (0201011) and the rural gmina
Bolesławiec (0201022). Each layer file is named PL.PZGiK.994.BDOT10k.0201__OT_XXXX_Y.xml and written in the
structure of the real files (../shared/data/bdot10k_gml_sample): ot:/bt: namespaces, BT_Identyfikator ids,
EPSG:2180 posLists easting first, a UTF-8 BOM.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from pyproj import Transformer

HEAD = (
    '\ufeff<?xml version="1.0" encoding="UTF-8"?>\n<gml:FeatureCollection'
    ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xlink="http://www.w3.org/1999/xlink"'
    ' xmlns:bt="urn:gugik:specyfikacje:gmlas:modelPodstawowy:1.0" xmlns:gml="http://www.opengis.net/gml/3.2"'
    ' xmlns:ot="urn:gugik:specyfikacje:gmlas:bazaDanychObiektowTopograficznych10k:1.0" gml:id="GUGiK_{layer}">\n'
)
PREFIX = "PL.PZGiK.994.BDOT10k.0201"
TOWN, RURAL = "0201011", "0201022"
# the town's west edge in EPSG:2180, near Bolesławiec (51.26 N, 15.57 E)
X0, Y0 = (round(v) for v in Transformer.from_crs(4326, 2180, always_xy=True).transform(15.55, 51.25))
TOWN_BOX = (X0, Y0, X0 + 4000, Y0 + 4000)
RURAL_BOX = (X0 + 4000, Y0, X0 + 12000, Y0 + 4000)


def _feature(layer: str, n: int, geometry: str, **fields) -> str:
    attrs = "".join(f"<ot:{k}>{v}</ot:{k}>" for k, v in fields.items())
    return (
        f'<gml:featureMember><ot:{layer} gml:id="PL.PZGIK.BDOT10k.{layer}.{n}"><ot:idIIP><bt:BT_Identyfikator>'
        f"<bt:lokalnyId>{layer}-{n:04d}</bt:lokalnyId><bt:przestrzenNazw>{PREFIX}</bt:przestrzenNazw>"
        f"</bt:BT_Identyfikator></ot:idIIP><ot:x_katIstnienia>Eks</ot:x_katIstnienia>{attrs}"
        f"<ot:geometria>{geometry}</ot:geometria></ot:{layer}></gml:featureMember>\n"
    )


def _poly(box: tuple[float, float, float, float]) -> str:
    x1, y1, x2, y2 = box
    ring = f"{x1} {y1} {x2} {y1} {x2} {y2} {x1} {y2} {x1} {y1}"
    return (
        f'<gml:Polygon gml:id="p{x1}{y1}" srsName="EPSG:2180" srsDimension="2"><gml:exterior><gml:LinearRing>'
        f"<gml:posList>{ring}</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon>"
    )


def _line(x: float, y: float) -> str:
    return (
        f'<gml:Curve gml:id="c{x}{y}" srsName="EPSG:2180" srsDimension="2"><gml:segments><gml:LineStringSegment>'
        f"<gml:posList>{x} {y} {x + 300.25} {y + 10.5} {x + 600.5} {y + 40.75}</gml:posList>"
        "</gml:LineStringSegment></gml:segments></gml:Curve>"
    )


def layers() -> dict[str, list[str]]:
    """The features of each layer: 2 gminas and the powiat; 6 roads (4 in the town); 3 buildings; 2 forests."""
    adja = [
        _feature("OT_ADJA_A", 1, _poly(TOWN_BOX), nazwa="Bolesławiec", idTerytTerc=TOWN, rodzaj="Gm"),
        _feature("OT_ADJA_A", 2, _poly(RURAL_BOX), nazwa="Bolesławiec", idTerytTerc=RURAL, rodzaj="Gm"),
        _feature(
            "OT_ADJA_A",
            3,
            _poly((X0, Y0, X0 + 12000, Y0 + 4000)),
            nazwa="bolesławiecki",
            idTerytTerc="0201",
            rodzaj="Pow",
        ),
    ]
    roads = [
        _feature(
            "OT_SKDR_L",
            i,
            _line(X0 + 500 + 800 * (i % 4) + (6000 if i >= 4 else 0), Y0 + 200 * i),
            katZarzadzania="G",
            klasaDrogi="L",
            materialNawierzchni="Bt",
            liczbaJezdniDrogi=1,
            nazwaDrogi=f"ulica Łąkowa {i}",
        )
        for i in range(6)
    ]
    houses = [
        _feature(
            "OT_BUBD_A",
            i,
            _poly((X0 + 100 + 50 * i, Y0 + 100, X0 + 120 + 50 * i, Y0 + 120)),
            funOgolnaBudynku="1110",
            liczbaKondygnacji=2,
        )
        for i in range(3)
    ]
    forest = [
        _feature("OT_PTLZ_A", i, _poly((X0 + 9000 + 100 * i, Y0 + 100, X0 + 9050 + 100 * i, Y0 + 150)))
        for i in range(2)
    ]
    return {"OT_ADJA_A": adja, "OT_SKDR_L": roads, "OT_BUBD_A": houses, "OT_PTLZ_A": forest}


def write_package(path: Path, only: tuple[str, ...] | None = None) -> Path:
    """The package as a zip of PREFIX/PREFIX__OT_XXXX_Y.xml files (a folder inside, as downloaded)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for layer, features in layers().items():
            if only is None or layer in only:
                text = HEAD.format(layer=layer) + "".join(features) + "</gml:FeatureCollection>\n"
                z.writestr(f"{PREFIX}/{PREFIX}__{layer}.xml", text.encode("utf-8"))
    return path
