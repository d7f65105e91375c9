"""Seeded benchmark data: points and polygons as a shapefile with a CP1250 DBF in EPSG:2178.

As a city's export would come, so that every loader must decode Polish text and reproject:
- points (public services): name and street with Polish diacritics, a locality, a date, an integer
  (capacity) and a type written in Polish (`rodzaj`) that the mapping codes through the service_type list;
- polygons (local plan zones): a title with diacritics, a symbol (MN, U, ZP...) coded through the
  land_use_designation list, a date of adoption and a number (maximum height).

    .venv/bin/python benchmarks/generate.py points 1000000 OUT_DIR [gpkg]

Large sets are generated and written a million features at a time, so memory stays bounded. A
shapefile's DBF stops at 2 GB (about 5M of these points), so 10M points go to a GeoPackage (UTF-8).
"""

from __future__ import annotations

import sys
from datetime import date, timedelta
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from pyproj import Transformer

SEED = 20261127
# Warsaw and around, in PUWG 2000 zone 7 (EPSG:2178): easting, northing.
_TO_2178 = Transformer.from_crs(4326, 2178, always_xy=True)
(E0, N0), (E1, N1) = _TO_2178.transform(20.85, 52.10), _TO_2178.transform(21.25, 52.36)
STREETS = [
    "ul. Świętokrzyska",
    "ul. Żelazna",
    "al. Jerozolimskie",
    "ul. Łucka",
    "ul. Źródlana",
    "ul. Ćwiklińskiej",
    "ul. Grójecka",
    "ul. Wąwozowa",
    "ul. Żwirki i Wigury",
    "ul. Śniadeckich",
]
KINDS = ["przedszkole", "szkoła podstawowa", "biblioteka", "przychodnia", "żłobek", "dom kultury"]
PLACES = ["Warszawa", "Łomianki", "Ząbki", "Piaseczno", "Józefów", "Żyrardów"]
SYMBOLS = ["MN", "MW", "U", "P", "ZP", "R", "KDD", "KDL", "ZL", "UO"]


CHUNK = 1_000_000


def points(n: int, folder: Path, fmt: str = "shp") -> Path:
    path = folder / f"uslugi_{n}.{fmt}"
    for start in range(0, n, CHUNK):
        _write(_points(min(CHUNK, n - start), start), path, append=start > 0)
    return path


def _points(n: int, offset: int) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(SEED + offset)
    kinds = rng.integers(0, len(KINDS), n)
    frame = gpd.GeoDataFrame(
        {
            "nazwa": [f"{KINDS[k].capitalize()} nr {i % 400 + 1} „Słoneczko”" for i, k in enumerate(kinds, offset)],
            "ulica": np.array(STREETS)[rng.integers(0, len(STREETS), n)],
            "miejscowos": np.array(PLACES)[rng.integers(0, len(PLACES), n)],
            "data_wpisu": _dates(rng, n),
            "liczba_mie": rng.integers(10, 500, n).astype("int32"),
            "rodzaj": np.array(KINDS)[kinds],
        },
        geometry=gpd.points_from_xy(rng.uniform(E0, E1, n), rng.uniform(N0, N1, n)),
        crs=2178,
    )
    frame.index += offset
    return frame


def polygons(n: int, folder: Path) -> Path:
    rng = np.random.default_rng(SEED + 1)
    x, y = rng.uniform(E0, E1, n), rng.uniform(N0, N1, n)
    w, h = rng.uniform(20, 120, n), rng.uniform(20, 120, n)
    symbols = np.array(SYMBOLS)[rng.integers(0, len(SYMBOLS), n)]
    frame = gpd.GeoDataFrame(
        {
            "tytul": [f"Miejscowy plan zagospodarowania przestrzennego „Śródmieście {i % 90}”" for i in range(n)],
            "oznaczeni": [f"{i % 99 + 1}{s}" for i, s in enumerate(symbols)],
            "symbol": symbols,
            "data_uchw": _dates(rng, n),
            "maks_wys": np.round(rng.uniform(6, 55, n), 1),
        },
        geometry=shapely.box(x, y, x + w, y + h),
        crs=2178,
    )
    return _write(frame, folder / f"plany_{n}.shp")


def _dates(rng, n: int) -> list:
    start = date(1995, 1, 1)
    return [start + timedelta(days=int(d)) for d in rng.integers(0, 11_000, n)]


def _write(frame: gpd.GeoDataFrame, path: Path, append: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    encoding = "cp1250" if path.suffix == ".shp" else None  # a GeoPackage is UTF-8 by definition
    # use_arrow: real DBF dates
    frame.to_file(path, encoding=encoding, engine="pyogrio", use_arrow=True, mode="a" if append else "w")
    for cpg in path.parent.glob(f"{path.stem}.cpg"):
        cpg.unlink()  # as old exports come: the code page only in the DBF header, or nowhere
    return path


if __name__ == "__main__":
    kind, count, out = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    print(points(count, out, *sys.argv[4:]) if kind == "points" else polygons(count, out))
