"""Bulk downloads: one GeoPackage per (city, theme) and one per theme over all cities, served by nginx.

Written by `sdi serve`'s parent (the owner) whenever the catalogue changes, never by the loading process,
which may run in a city's office. A file is rewritten only when the loads behind it changed, into a
temporary name first and then renamed, so that nginx serves the old file or the new one, never half of one.
nginx answers with ETag, Last-Modified and range requests. A burst of loads rebuilds a theme's national
file once: the serve parent polls the catalogue every 2 s and runs this synchronously, so loads committed
while a rebuild runs are taken together by the next one.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import geopandas as gpd
import psycopg
import shapely
from psycopg import sql

from sdi.core import sqlfiles
from sdi.core.settings import Settings
from sdi.server.datasets import ALL, Dataset

logger = logging.getLogger(__name__)

PREFIX = "/downloads"  # where nginx serves the folder
GPKG = "application/geopackage+sqlite3"
_SKIP = {"geom", "load_id"}


def folder(settings: Settings) -> Path:
    """$SDI_HOME/downloads: only files written here, by name from theme and city, are served."""
    return settings.home_abs / "downloads"


def public_path(ds: Dataset) -> str:
    """The URL path of a data set's GeoPackage (theme and city are checked identifiers, never row text)."""
    city = "PL" if ds.city == ALL else ds.city
    return f"{PREFIX}/{sqlfiles.check_theme(ds.theme)}/{ds.theme}_{city}.gpkg"


def refresh(conn: psycopg.Connection, settings: Settings, datasets: list[Dataset]) -> int:
    """Write the GeoPackages whose loads changed, remove the ones no longer published; returns files written."""
    root = folder(settings)
    root.mkdir(parents=True, exist_ok=True)
    state_file = root / ".state.json"
    try:
        state = json.loads(state_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        state = {}
    written, keep, new_state = 0, set(), {}
    for ds in datasets:
        if ds.raster:
            continue  # a raster's download is its COG, served under /rasters/
        path = public_path(ds)
        target = root / path.removeprefix(PREFIX + "/")
        keep.add(target)
        stamp = ",".join(str(x.load_id) for x in sorted(ds.loads, key=lambda x: x.city))
        new_state[path] = stamp
        if state.get(path) != stamp or not target.exists():
            _write(conn, ds, target)
            written += 1
        ds.downloads[path] = target.stat().st_size
    for stale in root.glob("*/*.gpkg"):
        if stale not in keep:
            stale.unlink()  # unpublished, or a theme made restricted: its file goes too
    state_file.write_text(json.dumps(new_state), encoding="utf-8")
    return written


def _write(conn: psycopg.Connection, ds: Dataset, target: Path) -> None:
    """One data set's current rows as a GeoPackage in EPSG:2180, written aside then renamed into place."""
    # The data set's own loads are bound, so that only their partitions are planned (2,477 cities' partitions
    # would cost more to plan than one city's rows to read; sdi.server.partition_scope says why).
    where: sql.Composable = sql.SQL(" WHERE load_id = ANY(%s::bigint[])")
    if ds.city != ALL:
        where = where + sql.SQL(" AND city = {}").format(sql.Literal(ds.city))
    query = sql.SQL("SELECT *, ST_AsBinary(geom) AS sdi_wkb FROM {}{} ORDER BY fid").format(
        sqlfiles.theme_table(ds.theme), where
    )
    cur = conn.execute(query, [[x.load_id for x in ds.loads]])
    names = [d.name for d in cur.description or []]
    rows = cur.fetchall()
    columns = {n: [r[i] for r in rows] for i, n in enumerate(names) if n not in _SKIP | {"sdi_wkb"}}
    geometry = shapely.from_wkb([bytes(r[names.index("sdi_wkb")]) for r in rows])
    frame = gpd.GeoDataFrame(columns, geometry=geometry, crs="EPSG:2180")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        frame.to_file(tmp, driver="GPKG", layer=ds.theme, engine="pyogrio")
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    logger.info("bulk download %s: %d features", target.name, len(frame))
