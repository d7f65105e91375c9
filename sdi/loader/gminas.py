"""Gmina boundaries from the loaded administrative units: which features of a source lie outside the city.

A BDOT10k package covers a whole powiat and a GTFS feed a transit area, so a load for one gmina may carry
its neighbours' features. Where the gminas' outlines are loaded (theme administrative_units, level
municipality or district, e.g. from PRG's gmina layer) each feature is placed in the gmina holding its
representative point (a point on its surface or line), else in the first gmina it touches.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import psycopg
import shapely
from pyproj import CRS

from sdi.core.settings import STORAGE_SRID

logger = logging.getLogger(__name__)

STORAGE = CRS.from_epsg(STORAGE_SRID)

# Levels of the admin_level code list that a --city may name.
_LEVELS = ("municipality", "district")
_QUERY = """SELECT DISTINCT ON (teryt) teryt, ST_AsBinary(geom) FROM data.administrative_units
            WHERE level = ANY(%s) AND length(teryt) = 7 {where} ORDER BY teryt, fid DESC"""

#: what a user without boundaries should run (PRG's gmina layer: Gminy.shp / A03_Granice_gmin.shp)
HOW_TO_LOAD = (
    "load the gmina boundaries first, e.g. from PRG's gmina layer: sdi load A03_Granice_gmin.shp"
    " --city {city} --theme administrative_units --mapping config/mappings/prg/administrative_units.yaml"
)


@dataclass
class Boundaries:
    """Gmina outlines by TERYT code, in EPSG:2180, with a spatial index over them."""

    codes: list[str]
    shapes: np.ndarray

    def __post_init__(self):
        self.tree = shapely.STRtree(self.shapes)

    def __bool__(self) -> bool:
        return bool(self.codes)

    def has(self, city: str) -> bool:
        return city in self.codes

    def place(self, geoms: np.ndarray) -> np.ndarray:
        """The gmina code of each geometry (None outside every loaded gmina)."""
        placed = np.full(len(geoms), None, dtype=object)
        valid = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        points = np.full(len(geoms), None, dtype=object)
        points[valid] = shapely.point_on_surface(geoms[valid])
        for pick, probes in (("within", points), ("intersects", geoms)):
            todo = np.flatnonzero(valid & np.equal(placed, np.array(None)))  # elementwise on an object array
            if not len(todo):
                break
            hits = self.tree.query(probes[todo], predicate=pick)  # pairs (probe, gmina): probe `pick` gmina
            first: dict[int, int] = {}
            for i, j in zip(*hits, strict=True):  # a (2, n) array of pairs
                first.setdefault(int(i), int(j))
            for i, j in first.items():
                placed[todo[i]] = self.codes[j]
        return placed


def boundaries(conn: psycopg.Connection, only: str | None = None) -> Boundaries:
    """The loaded gmina and district outlines (all of them, or `only` that code); empty when none are loaded."""
    where, params = ("AND teryt = %s", [list(_LEVELS), only]) if only else ("", [list(_LEVELS)])
    try:
        with conn.transaction():
            rows = conn.execute(_QUERY.format(where=where), params).fetchall()
    except psycopg.errors.UndefinedTable:  # the theme was never set up: no boundaries
        return Boundaries([], np.array([], dtype=object))
    return Boundaries([r[0] for r in rows], np.array([shapely.from_wkb(bytes(r[1])) for r in rows], dtype=object))


def resolve_six(conn: psycopg.Connection, six: str) -> list[str]:
    """The loaded gminas and districts whose code starts with these 6 digits (for a code without its type digit)."""
    try:
        with conn.transaction():
            rows = conn.execute(
                "SELECT DISTINCT teryt FROM data.administrative_units WHERE level = ANY(%s)"
                " AND length(teryt) = 7 AND left(teryt, 6) = %s",
                [list(_LEVELS), six],
            ).fetchall()
    except psycopg.errors.UndefinedTable:
        return []
    return [r[0] for r in rows]


@dataclass
class Scope:
    """Which features of a load belong to `city`: counted (default), left out (clip) or one gmina's (split).

    Applied to each repaired batch before harmonising; `outside` counts the features of the source that
    lie outside the city, whatever was done with them.
    """

    city: str
    bounds: Boundaries | None
    mode: str = "count"  # count | clip | split
    home: bool = True  # in a split, the --city's load also takes the features outside every gmina, as rejects
    outside: int = 0
    unplaced: int = 0
    _by_crs: dict | None = None

    def place(self, frame: gpd.GeoDataFrame) -> np.ndarray:
        """The gmina of each feature of a frame in its own CRS (boundaries reprojected once per CRS)."""
        self._by_crs = self._by_crs or {}
        key = frame.crs.to_string() if frame.crs is not None else None
        if self.bounds is None:  # apply() places nothing without boundaries
            raise ValueError("no gmina boundaries to place features in")
        if key not in self._by_crs:
            shapes = self.bounds.shapes
            if frame.crs is not None and not frame.crs.equals(STORAGE):
                shapes = gpd.GeoSeries(shapes, crs=STORAGE).to_crs(frame.crs).values
            self._by_crs[key] = Boundaries(self.bounds.codes, np.asarray(shapes, dtype=object))
        return self._by_crs[key].place(np.asarray(frame.geometry.values, dtype=object))

    def apply(self, frame: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame | None]:
        """The features to load for the city, and (in a split, for the home city) those outside every gmina."""
        if not self.bounds or not len(frame):
            return frame, None
        placed = self.place(frame)
        inside = placed == self.city
        self.outside += int((~inside).sum())
        if self.mode == "count":
            return frame, None
        nowhere = np.array([p is None for p in placed], dtype=bool)
        self.unplaced += int(nowhere.sum())
        if self.mode == "split" and self.home:
            return frame[inside], frame[nowhere]
        return frame[inside], None

    def notes(self, read: int, wide: bool) -> list[str]:
        """What the report says about the features outside the city, or why it could not say it."""
        if not self.bounds:
            if not wide:
                return []
            return [
                (
                    f"the source may cover more than gmina {self.city} (a package or a transit feed), but no gmina"
                    f" boundaries are loaded to count the features outside it; {HOW_TO_LOAD.format(city=self.city)}"
                )
            ]
        if not self.outside:
            return []
        if self.mode == "clip":
            return [
                (f"{self.outside} of {read} features lie outside gmina {self.city} and were left out (--clip-to-city)")
            ]
        if self.mode == "split":
            return (
                [f"{self.unplaced} feature(s) lie outside every loaded gmina boundary and were rejected"]
                if self.home and self.unplaced
                else []
            )
        return [
            (
                f"{self.outside} of {read} features lie outside gmina {self.city}; --clip-to-city keeps only those"
                " inside, --split-by-gmina loads each gmina's features as that gmina's version"
            )
        ]

    def as_dict(self) -> dict:
        return {
            "boundaries": bool(self.bounds),
            "outside": self.outside if self.bounds else None,
            "action": {"count": "kept", "clip": "left out", "split": "loaded as their gminas' versions"}[self.mode],
        }
