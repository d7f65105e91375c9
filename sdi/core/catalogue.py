"""What is loaded: the catalogue schema, its versioned migrations, layers and load history."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row, tuple_row
from psycopg.types.json import Jsonb

from sdi import __version__
from sdi.core import sqlfiles
from sdi.core.db import connect, one_row, scalar
from sdi.core.errors import ConfigError, DatabaseError, LoadError, first_line
from sdi.core.settings import Settings

logger = logging.getLogger(__name__)

# Any fixed number: it serialises concurrent `sdi init` runs on one database.
_MIGRATION_LOCK = 7_211_466


@dataclass
class Layer:
    """One (city, theme) as currently loaded."""

    city: str
    theme: str
    feature_count: int
    reject_count: int
    loaded_at: datetime
    source: str
    load_id: int


def migrate(conn: psycopg.Connection) -> list[str]:
    """Apply the migrations this database lacks, in one transaction; returns the names applied."""
    applied: list[str] = []
    if _up_to_date(conn):
        return applied  # nothing to do, and nothing a city's or the reader's login may not do
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", [_MIGRATION_LOCK])
        conn.execute("CREATE SCHEMA IF NOT EXISTS sdi")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS sdi.schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r[0] for r in conn.execute("SELECT version FROM sdi.schema_migrations")}
        for version, name, text in sqlfiles.migrations():
            if version in done:
                continue
            conn.execute(text)
            conn.execute("INSERT INTO sdi.schema_migrations (version, name) VALUES (%s, %s)", [version, name])
            applied.append(name)
            logger.info("applied migration %s", name)
    return applied


def _up_to_date(conn: psycopg.Connection) -> bool:
    with conn.transaction():
        if scalar(conn.execute("SELECT to_regclass('sdi.schema_migrations')")) is None:
            return False
        done = {r[0] for r in conn.execute("SELECT version FROM sdi.schema_migrations")}
    return {version for version, _, _ in sqlfiles.migrations()} <= done


def open_catalogue(settings: Settings | None = None) -> psycopg.Connection:
    """A connection to a database whose catalogue is migrated to the newest version."""
    conn = connect(settings)
    migrate(conn)
    return conn


def layers(conn: psycopg.Connection) -> list[Layer]:
    """Every (city, theme) currently loaded."""
    return [Layer(*row) for row in conn.execute(sqlfiles.load("layers.sql"))]


def published_themes(conn: psycopg.Connection, *, raster: bool = False) -> list[str]:
    """The vector themes with data (or the raster themes), in name order: each becomes one API collection."""
    # A cursor of plain tuples: the API's pool hands out connections that return dicts.
    cur = conn.cursor(row_factory=tuple_row)
    query = "SELECT theme FROM data.sdi_layers WHERE raster = %s"
    # Views derived from the loaded data (the analysis results of migration 0011) that hold rows.
    if not raster and scalar(cur.execute("SELECT to_regclass('data.sdi_derived_layers')")):
        query += " UNION SELECT theme FROM data.sdi_derived_layers"
    return sorted({r[0] for r in cur.execute(query, [raster])})


def theme_extent(conn: psycopg.Connection, theme: str) -> tuple[list[float] | None, int]:
    """The CRS84 bbox [minx, miny, maxx, maxy] of a theme, and its feature count."""
    query = sql.SQL(sqlfiles.load("theme_extents.sql")).format(table=sqlfiles.theme_table(theme))
    minx, miny, maxx, maxy, count = one_row(conn.execute(query))
    bbox = None if minx is None else [minx, miny, maxx, maxy]
    return bbox, count


def extension_installed(conn: psycopg.Connection, name: str) -> bool:
    """Whether the database has extension `name` (pgrouting: the analysis and its process API are on)."""
    return bool(one_row(conn.execute("SELECT EXISTS (SELECT FROM pg_extension WHERE extname = %s)", [name]))[0])


def theme_cities(conn: psycopg.Connection, theme: str) -> int:
    """How many cities a theme's rows come from: for the derived layers (analysis results), which have no loads."""
    query = sql.SQL("SELECT count(DISTINCT city) FROM {table}").format(table=sqlfiles.theme_table(theme))
    return int(one_row(conn.execute(query))[0])


@dataclass
class CityRaster:
    """The current COG of one city in a raster theme."""

    city: str
    path: str
    bytes: int
    bounds: tuple[float, float, float, float]  # EPSG:2180
    lonlat: tuple[float, float, float, float]  # west, south, east, north
    low: float | None  # the 2nd and 98th percentiles of band 1
    high: float | None


def current_rasters(conn: psycopg.Connection) -> dict[str, list[CityRaster]]:
    """Every raster theme with its cities' current COGs, oldest load first."""
    found: dict[str, list[CityRaster]] = {}
    for r in conn.cursor(row_factory=dict_row).execute(sqlfiles.load("current_rasters.sql")):
        found.setdefault(r["theme"], []).append(
            CityRaster(
                r["city"],
                r["path"],
                r["bytes"],
                (r["xmin"], r["ymin"], r["xmax"], r["ymax"]),
                (r["west"], r["south"], r["east"], r["north"]),
                r["low"],
                r["high"],
            )
        )
    return found


@dataclass
class Provenance:
    """Where a load came from: the source file, its size and SHA-256, layer, what was detected, who and when."""

    source: str
    source_layer: str | None
    detected: dict[str, Any]
    size: int | None = None
    sha256: str | None = None
    operator: str | None = None
    started_at: datetime | None = None


def record_load(conn: psycopg.Connection, *, city: str, theme: str, provenance: Provenance, fresh: bool = False) -> int:
    """Begin a load (inside the caller's transaction) through the catalogue's function; returns its id.

    The row is `begun`: it can hold data, rejects and a raster, but becomes current only once finished.
    `fresh`: the caller opens the load's own table itself (sdi.open_load_table), as the vector loader does;
    otherwise a partitioned theme gets an empty partition for rows written through history.<theme>.
    """
    p = provenance
    function = "sdi.begin_fresh_load" if fresh else "sdi.begin_load"
    cur = conn.execute(
        f"SELECT {function}(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        [
            city,
            theme,
            p.source,
            p.source_layer,
            Jsonb(p.detected),
            p.size,
            p.sha256,
            p.operator,
            __version__,
            p.started_at,
        ],
    )
    load_id: int = scalar(cur)
    return load_id


def finish_load(conn: psycopg.Connection, load_id: int, features: int, rejects: int) -> None:
    """Finish a begun load with its counts, which the database checks against the rows it holds."""
    conn.execute("SELECT sdi.finish_load(%s, %s, %s)", [load_id, features, rejects])


def own_city(conn: psycopg.Connection, city: str) -> str | None:
    """The city of a city's login (None for the owner); a LoadError when that login asks for another city."""
    own: str | None = scalar(conn.execute("SELECT sdi.current_city()"))
    if own is not None and own != city:  # row-level security would refuse it anyway, less clearly
        raise LoadError(
            f"this login (city {own}) may load only city {own}, not {city}",
            f"load {city} with its own login: the administrator makes it with `sdi city add {city}`",
        )
    return own


def lock_layer(conn: psycopg.Connection, city: str, theme: str) -> None:
    """One load or rollback per (city, theme) at a time: a second waits here until the first commits."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtext('sdi.loader.load'), hashtext(%s))", [f"{city}:{theme}"])


@contextlib.contextmanager
def load_errors() -> Iterator[None]:
    """The database's refusals during a load, as one-line errors; the transaction is already rolled back."""
    try:
        yield
    except psycopg.OperationalError as exc:
        reason = first_line(exc)
        raise DatabaseError(
            f"lost the connection to PostGIS during the load ({reason})",
            "nothing was stored: the transaction is rolled back; when the server is up"
            " again (sdi db status), load again",
        ) from None
    except psycopg.errors.InsufficientPrivilege as exc:
        raise LoadError(
            f"the database refused this login ({exc.diag.message_primary})",
            "nothing was changed; load as the city's own login or as the owner",
        ) from None


def set_current(conn: psycopg.Connection, *, city: str, theme: str, load_id: int) -> None:
    """Make a finished load the current one of its (city, theme): the one switch for loads, rasters, rollback.

    sdi.set_current checks in the database that the caller may act for the city, and that the load is
    finished and of that very city and theme.
    """
    conn.execute("SELECT sdi.set_current(%s, %s, %s)", [city, theme, load_id])


def record_rejects(conn: psycopg.Connection, load_id: int, rejects: list[dict[str, Any]]) -> None:
    """Store every rejected feature with its reason, source id, attributes and original geometry."""
    if not rejects:
        return
    if scalar(conn.execute("SELECT sdi.current_city()")) is not None:
        # A city's login has no INSERT on sdi.rejects (and COPY cannot run under row-level security):
        # its rejects go through the catalogue's function, which checks that the load is its own and begun.
        rows = [
            {
                "source_index": r["index"],
                "source_id": r.get("source_id"),
                "reason": r["reason"],
                "properties": r["properties"],
                "geom": r.get("geom_ewkb_hex"),
            }
            for r in rejects
        ]
        conn.execute("SELECT sdi.add_rejects(%s, %s)", [load_id, Jsonb(rows)])
        return
    with conn.cursor().copy(
        "COPY sdi.rejects (load_id, source_index, source_id, reason, properties, geom) FROM STDIN"
    ) as copy:
        for r in rejects:
            copy.write_row(
                [load_id, r["index"], r.get("source_id"), r["reason"], Jsonb(r["properties"]), r.get("geom_ewkb_hex")]
            )


def history(conn: psycopg.Connection, city: str, theme: str) -> list[dict[str, Any]]:
    """Every version of a city's theme, newest first."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(sqlfiles.load("history.sql"), {"city": city, "theme": theme}).fetchall()


def rollback(conn: psycopg.Connection, city: str, theme: str, to: int) -> None:
    """Make an earlier version current again, in one transaction."""
    with load_errors(), conn.transaction():
        lock_layer(conn, city, theme)
        row = conn.execute("SELECT city, theme, state FROM sdi.loads WHERE load_id = %s", [to]).fetchone()
        if row is None or (row[0], row[1], row[2]) != (city, theme, "finished"):
            raise ConfigError(
                f"load {to} is not a version of {theme} for city {city}",
                f"see the versions with `sdi history --city {city} --theme {theme}`",
            )
        set_current(conn, city=city, theme=theme, load_id=to)


def rejects(
    conn: psycopg.Connection, city: str, theme: str, load_id: int | None = None
) -> tuple[int | None, list[dict[str, Any]]]:
    """The rejects of a load (default: the newest load of the city's theme) and that load's id."""
    if load_id is None:
        row = conn.execute("SELECT max(load_id) FROM sdi.loads WHERE city = %s AND theme = %s", [city, theme])
        load_id = scalar(row)
    if load_id is None:
        return None, []
    with conn.cursor(row_factory=dict_row) as cur:
        return load_id, cur.execute(sqlfiles.load("rejects.sql"), {"load_id": load_id}).fetchall()
