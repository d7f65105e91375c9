"""The published data sets, as the metadata, the catalogue and the bulk downloads see them.

One data set per (city, theme) and one per theme over all cities, read from the catalogue as the owner
(sdi serve's parent). Restricted themes are left out here, once, so that no record, file or feed entry
downstream can name them. Nothing a catalogue row holds is trusted: the source path is cut to its file
name, and every text goes into XML through an escaping writer.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePath

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from sdi.core import catalogue, sqlfiles
from sdi.core.config import RasterSchema, Schema, registry
from sdi.core.settings import Settings

ALL = "all"  # the city of a data set over every city, as stored in sdi.dataset_ids
# The namespace of every fileIdentifier: uuid5(NAMESPACE, "<city>/<theme>") is stable across versions,
# servers and reinstalls, so that the national register's harvest sees one record updated, never a new one.
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/sdi-pl/sdi/datasets")

_CITY_EXTENTS = (
    "SELECT city, ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e), n FROM (SELECT city, "
    "ST_Extent(ST_Transform(geom, 4326)) AS e, count(*) AS n FROM {} GROUP BY city) s"
)


@dataclass
class Load:
    """The provenance of one city's current version, as the lineage states it."""

    city: str
    load_id: int
    source_name: str  # the file name only: a server path never reaches a record
    source_layer: str | None
    size: int | None
    sha256: str | None
    encoding: str | None
    crs: str | None
    features: int
    rejects: int
    operator: str | None
    started_at: datetime | None
    loaded_at: datetime


@dataclass
class Dataset:
    """One published data set: a city's theme, or a theme over all cities (city == ALL)."""

    city: str
    theme: str
    schema: Schema | RasterSchema
    bbox: tuple[float, ...]  # CRS84: west, south, east, north
    count: int  # features (vectors) or cities' rasters
    loads: list[Load]
    register_id: str | None = None
    downloads: dict[str, int] = field(default_factory=dict)  # public path -> bytes, filled by sdi.server.downloads

    @property
    def raster(self) -> bool:
        return isinstance(self.schema, RasterSchema)

    @property
    def file_identifier(self) -> str:
        return file_identifier(self.city, self.theme)

    @property
    def updated(self) -> datetime:
        return max(x.loaded_at for x in self.loads)


def file_identifier(city: str, theme: str) -> str:
    """The record's fileIdentifier: derived once from city and theme, never changed by a new version."""
    return str(uuid.uuid5(NAMESPACE, f"{city}/{theme}"))


def published(conn: psycopg.Connection, settings: Settings) -> list[Dataset]:
    """Every public data set with data: each (city, theme), then each theme over all its cities."""
    known = registry(settings)
    schemas: dict[str, Schema | RasterSchema] = {**known.schemas, **known.rasters}
    ids = register_ids(conn)
    loads: dict[str, list[Load]] = {}
    for row in conn.cursor(row_factory=dict_row).execute(sqlfiles.load("provenance.sql")):
        schema = schemas.get(row["theme"])
        if schema is not None and schema.access == "public":  # restricted: not one byte downstream
            loads.setdefault(row["theme"], []).append(_load(row))
    found: list[Dataset] = []
    rasters = catalogue.current_rasters(conn)
    for theme, theme_loads in loads.items():
        extents = _raster_extents(rasters.get(theme, [])) if theme in known.rasters else _extents(conn, theme)
        cities = [x for x in theme_loads if x.city in extents]
        for x in cities:
            bbox, count = extents[x.city]
            found.append(Dataset(x.city, theme, schemas[theme], bbox, count, [x], ids.get((x.city, theme))))
        if cities:
            boxes = [extents[x.city][0] for x in cities]
            bbox = (
                min(b[0] for b in boxes),
                min(b[1] for b in boxes),
                max(b[2] for b in boxes),
                max(b[3] for b in boxes),
            )
            found.append(
                Dataset(
                    ALL,
                    theme,
                    schemas[theme],
                    bbox,
                    sum(extents[x.city][1] for x in cities),
                    cities,
                    ids.get((ALL, theme)),
                )
            )
    return found


def register_ids(conn: psycopg.Connection) -> dict[tuple[str, str], str]:
    """The national register's identifier of each data set that has one."""
    return {(c, t): i for c, t, i in conn.execute("SELECT city, theme, register_id FROM sdi.dataset_ids")}


def set_register_id(conn: psycopg.Connection, city: str, theme: str, register_id: str | None) -> None:
    """Store (or, with None, remove) a data set's identifier in the national register; owner only."""
    with conn.transaction():
        if register_id is None:
            conn.execute("DELETE FROM sdi.dataset_ids WHERE city = %s AND theme = %s", [city, theme])
        else:
            conn.execute(
                "INSERT INTO sdi.dataset_ids (city, theme, register_id) VALUES (%s, %s, %s) "
                "ON CONFLICT (city, theme) DO UPDATE SET register_id = EXCLUDED.register_id, set_at = now()",
                [city, theme, register_id],
            )


def _load(row: dict) -> Load:
    detected = row["detected"] or {}
    return Load(
        row["city"],
        row["load_id"],
        PurePath(str(row["source"]).replace("\\", "/")).name,
        row["source_layer"],
        row["source_size"],
        row["source_sha256"],
        _text(detected.get("encoding")),
        _text(detected.get("crs")),
        row["feature_count"],
        row["reject_count"],
        row["operator"],
        row["started_at"],
        row["loaded_at"],
    )


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _extents(conn: psycopg.Connection, theme: str) -> dict[str, tuple[tuple[float, ...], int]]:
    """{city: (CRS84 box, feature count)}: from the catalogue where every current load recorded its extent,
    since a scan of a national theme (10M rows reprojected) would cost seconds at every catalogue change."""
    recorded = conn.execute(sqlfiles.load("catalogue_city_extents.sql"), [theme]).fetchall()
    if all(row[1] is not None for row in recorded):
        return {city: ((w, s, e, n), count) for city, w, s, e, n, count in recorded}
    query = sql.SQL(_CITY_EXTENTS).format(sqlfiles.theme_table(theme))
    return {city: ((w, s, e, n), count) for city, w, s, e, n, count in conn.execute(query) if w is not None}


def _raster_extents(rasters: list[catalogue.CityRaster]) -> dict[str, tuple[tuple[float, ...], int]]:
    return {r.city: (tuple(r.lonlat), 1) for r in rasters}
