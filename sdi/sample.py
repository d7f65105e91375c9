"""A small, plausible sample gmina for the demo and the tests, generated rather than copied.

"Gmina Przykładowa" (TERYT 2699011, a code no real gmina has) sits near Kielce. Its files come in
three formats and three CRSs on purpose, as a city's files do: roads as a shapefile in PUWG 2000
zone 7 with a CP1250 DBF, buildings as a GeoPackage in PUWG 1992, services as GeoJSON in WGS84.
"""

from __future__ import annotations

import random
from pathlib import Path

import geopandas as gpd
from pyproj import Transformer
from shapely.geometry import LineString, Point, box

SAMPLE_CITY = "2699011"
_CENTRE_LONLAT = (20.66, 50.88)

_STREETS_EW = ["Świętokrzyska", "Łąkowa", "Źródlana", "Żeromskiego"]
_STREETS_NS = ["Kościuszki", "Ogrodowa", "Szkolna", "Wąska", "Słoneczna"]
_SERVICES = [
    ("Szkoła Podstawowa nr 1 im. Marii Skłodowskiej-Curie", "primary_school", 420, "Gmina Przykładowa"),
    ("Przedszkole Samorządowe „Słoneczko”", "kindergarten", 125, "Gmina Przykładowa"),
    ("Żłobek Miejski „Pszczółka”", "nursery", 60, "Gmina Przykładowa"),
    ("Liceum Ogólnokształcące im. Stefana Żeromskiego", "secondary_school", 510, "Powiat kielecki"),
    ("Gminna Biblioteka Publiczna", "library", None, "Gmina Przykładowa"),
    ("Przychodnia Zdrowia „Pod Lipami”", "clinic", None, "SP ZOZ Przykładowa"),
]


def write_sample(folder: Path) -> dict[str, Path]:
    """Write the sample gmina's files into `folder`; returns {theme: path}."""
    folder.mkdir(parents=True, exist_ok=True)
    x0, y0 = Transformer.from_crs(4326, 2180, always_xy=True).transform(*_CENTRE_LONLAT)
    rng = random.Random(2699011)
    roads = _roads(x0, y0)
    paths = {
        "roads": folder / "drogi.shp",
        "buildings": folder / "budynki.gpkg",
        "public_services": folder / "uslugi_publiczne.geojson",
    }
    # CP1250 with a .cpg, as most Polish municipal shapefiles are.
    roads.to_crs(2178).to_file(paths["roads"], encoding="cp1250")
    _buildings(x0, y0, rng).to_file(paths["buildings"], layer="budynki")
    _services(x0, y0).to_crs(4326).to_file(paths["public_services"], driver="GeoJSON")
    return paths


def _roads(x0: float, y0: float) -> gpd.GeoDataFrame:
    rows = []
    for i, name in enumerate(_STREETS_EW):
        y = y0 + (i - 1.5) * 200
        rows.append((f"ul. {name}", "district" if i == 0 else "municipal", "asphalt", 7.0 if i == 0 else 5.5,
                     LineString([(x0 - 500, y), (x0 + 500, y + (i - 1.5) * 15)])))
    for i, name in enumerate(_STREETS_NS):
        x = x0 + (i - 2) * 220
        surface = "paving_stones" if name == "Wąska" else "asphalt"
        rows.append((f"ul. {name}", "municipal", surface, 4.0 if name == "Wąska" else 5.5,
                     LineString([(x, y0 - 420), (x + 10, y0), (x, y0 + 420)])))
    return gpd.GeoDataFrame(rows, columns=["name", "road_class", "surface", "width_m", "geometry"], crs=2180)


def _buildings(x0: float, y0: float, rng: random.Random) -> gpd.GeoDataFrame:
    rows = []
    for i in range(-2, 3):
        for j in range(-2, 2):
            for k in range(3):
                x = x0 + i * 220 + 40 + k * 50
                y = y0 + j * 200 + 40 + rng.uniform(0, 60)
                function = rng.choice(["residential"] * 6 + ["commercial", "industrial", "education", "health"])
                floors = rng.randint(1, 4) if function == "residential" else rng.randint(1, 3)
                rows.append((function, floors, "existing",
                             box(x, y, x + rng.uniform(12, 25), y + rng.uniform(10, 18))))
    return gpd.GeoDataFrame(rows, columns=["function", "floors", "status", "geometry"], crs=2180)


def _services(x0: float, y0: float) -> gpd.GeoDataFrame:
    rows = []
    for n, (name, kind, capacity, operator) in enumerate(_SERVICES):
        street = _STREETS_NS[n % len(_STREETS_NS)]
        point = Point(x0 + (n % 5 - 2) * 220 + 25, y0 + (n - 3) * 120)
        rows.append((name, kind, f"ul. {street} {n * 3 + 1}, 26-001 Przykładowa", capacity, operator, point))
    columns = ["name", "service_type", "address", "capacity", "operator", "geometry"]
    return gpd.GeoDataFrame(rows, columns=columns, crs=2180)
