"""A small, plausible sample gmina for the demo and the tests, generated rather than copied.

"Gmina Przykładowa" (TERYT 2699011, a code no real gmina has) sits near Kielce. Its files come in
three formats and three CRSs on purpose, as a city's files do: roads as a shapefile in PUWG 2000
zone 7 with a CP1250 DBF, buildings as a GeoPackage in PUWG 1992, services as GeoJSON in WGS84.
Its rasters: an elevation model as a GeoTIFF in PUWG 2000 zone 7, and an orthophoto in two tiles in
PUWG 1992, drawn from the town's own roads and buildings (a synthetic picture, not a photograph).
"""

from __future__ import annotations

import random
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
from pyproj import Transformer
from rasterio import features
from rasterio.transform import from_origin
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


def write_sample_rasters(folder: Path) -> dict[str, Path]:
    """Write the sample gmina's rasters into `folder`; returns {theme: path} (the orthophoto is a folder of tiles)."""
    folder.mkdir(parents=True, exist_ok=True)
    x0, y0 = Transformer.from_crs(4326, 2180, always_xy=True).transform(*_CENTRE_LONLAT)
    x0, y0 = round(x0), round(y0)
    return {"elevation": _elevation(x0, y0, folder / "nmt.tif"), "orthophoto": _orthophoto(x0, y0, folder / "ortofoto")}


def _elevation(x0: float, y0: float, path: Path) -> Path:
    """Heights in metres on 2 m pixels: a ridge to the north-east falling to a stream valley, as around Kielce."""
    e0, n0 = Transformer.from_crs(2180, 2178, always_xy=True).transform(x0 - 700, y0 + 600)
    e0, n0 = round(e0), round(n0)
    n, m = np.mgrid[0:600, 0:700].astype("float32")
    heights = 260 + 0.08 * m - 0.05 * n + 25 * np.exp(-((m - 520) ** 2 + (n - 120) ** 2) / 20_000.0)
    heights -= 8 * np.exp(-((n - 330 - 40 * np.sin(m / 90)) ** 2) / 300.0)  # the stream
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=700,
        height=600,
        count=1,
        dtype="float32",
        crs="EPSG:2178",
        transform=from_origin(e0, n0, 2.0, 2.0),
        nodata=-9999.0,
        compress="deflate",
    ) as ds:
        ds.write(heights.astype("float32"), 1)
    return path


def _orthophoto(x0: float, y0: float, folder: Path) -> Path:
    """Fields, roads and roofs at 0.5 m, rasterised from the sample's own layers, as a west and an east tile."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2699011)
    roads, buildings = _roads(x0, y0), _buildings(x0, y0, random.Random(2699011))
    west, north, size = x0 - 700, y0 + 600, (2400, 2800)  # rows, columns of 0.5 m
    transform = from_origin(west, north, 0.5, 0.5)
    rows, cols = np.mgrid[0 : size[0], 0 : size[1]]
    strips = ((cols // 160 + rows // 220) % 3)[None]  # field strips, as Polish farmland is cut
    field = np.array([[118, 142, 84], [150, 160, 96], [96, 128, 70]], dtype="int16")
    image = field[strips[0]].transpose(2, 0, 1) + rng.integers(-12, 12, (3, *size))
    covered = [
        (g.buffer(w / 2, cap_style=2), i + 1)
        for i, (g, w) in enumerate(zip(roads.geometry, roads.width_m, strict=True))
    ]
    road_mask = features.rasterize(covered, out_shape=size, transform=transform) > 0
    image[:, road_mask] = np.array([[112], [112], [116]]) + rng.integers(-6, 6, (3, int(road_mask.sum())))
    roofs = features.rasterize(
        [(g, 1 + i % 3) for i, g in enumerate(buildings.geometry)], out_shape=size, transform=transform
    )
    for colour, value in (((168, 72, 52), 1), ((140, 138, 134), 2), ((120, 60, 48), 3)):
        image[:, roofs == value] = np.array(colour)[:, None]
    image = image.clip(1, 255).astype("uint8")
    for name, cols_ in (("ortofoto_w.tif", slice(0, 1400)), ("ortofoto_e.tif", slice(1400, 2800))):
        tile = image[:, :, cols_]
        with rasterio.open(
            folder / name,
            "w",
            driver="GTiff",
            width=tile.shape[2],
            height=tile.shape[1],
            count=3,
            dtype="uint8",
            crs="EPSG:2180",
            photometric="RGB",
            compress="deflate",
            transform=from_origin(west + cols_.start * 0.5, north, 0.5, 0.5),
        ) as ds:
            ds.write(tile)
    return folder


def _roads(x0: float, y0: float) -> gpd.GeoDataFrame:
    rows = []
    for i, name in enumerate(_STREETS_EW):
        y = y0 + (i - 1.5) * 200
        rows.append(
            (
                f"ul. {name}",
                "district" if i == 0 else "municipal",
                "asphalt",
                7.0 if i == 0 else 5.5,
                LineString([(x0 - 500, y), (x0 + 500, y + (i - 1.5) * 15)]),
            )
        )
    for i, name in enumerate(_STREETS_NS):
        x = x0 + (i - 2) * 220
        surface = "paving_stones" if name == "Wąska" else "asphalt"
        rows.append(
            (
                f"ul. {name}",
                "municipal",
                surface,
                4.0 if name == "Wąska" else 5.5,
                LineString([(x, y0 - 420), (x + 10, y0), (x, y0 + 420)]),
            )
        )
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
                rows.append((function, floors, "existing", box(x, y, x + rng.uniform(12, 25), y + rng.uniform(10, 18))))
    return gpd.GeoDataFrame(rows, columns=["function", "floors", "status", "geometry"], crs=2180)


def _services(x0: float, y0: float) -> gpd.GeoDataFrame:
    rows = []
    for n, (name, kind, capacity, operator) in enumerate(_SERVICES):
        street = _STREETS_NS[n % len(_STREETS_NS)]
        point = Point(x0 + (n % 5 - 2) * 220 + 25, y0 + (n - 3) * 120)
        rows.append((name, kind, f"ul. {street} {n * 3 + 1}, 26-001 Przykładowa", capacity, operator, point))
    columns = ["name", "service_type", "address", "capacity", "operator", "geometry"]
    return gpd.GeoDataFrame(rows, columns=columns, crs=2180)
