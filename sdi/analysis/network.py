"""The walking network of one run: roads and paths of the city and its surroundings, snapped, noded, and
split into connected components so that gaps are visible before anyone trusts a distance."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

import psycopg

from sdi.analysis.units import NOUN, THEME, check_loaded, outline
from sdi.core import sqlfiles
from sdi.core.db import one_row, scalar
from sdi.core.errors import ConfigError, InputError

logger = logging.getLogger(__name__)

#: The one line the database administrator runs when the owner may not create the extension.
CREATE_EXTENSION = "CREATE EXTENSION IF NOT EXISTS pgrouting SCHEMA public"


#: The themes a run reads; a theme never loaded has no view yet and reads as empty.
THEMES = (
    "roads",
    "cycle_paths",
    "parcels",
    "buildings",
    "public_services",
    "green_areas",
    "public_transport_stops",
    "administrative_units",
    "address_points",
    "land_use_plans",
)
_EMPTY = (
    "(SELECT NULL::bigint AS fid, NULL::char(7) AS city, NULL::geometry AS geom, NULL::text AS technical_class,"
    " NULL::text AS service_type, NULL::boolean AS publicly_accessible, NULL::text AS parcel_id,"
    " NULL::text AS precinct, NULL::text AS municipality_type, NULL::text AS street, NULL::text AS house_number,"
    " NULL::text AS egib_id, NULL::text AS name, NULL::text AS function, NULL::text AS designation,"
    " NULL::text AS zone_id, NULL::text AS plan_id, NULL::text AS status WHERE false)"
)


#: The road zones of a local plan (designations of land_use_designation) that planned routes come from,
#: minus the motorway and expressway zones, closed to pedestrians like the roads they hold.
PLANNED_ZONES = (
    "public_road",
    "main_accelerated_road",
    "main_road",
    "collector_road",
    "local_road",
    "access_road",
    "internal_road",
    "transport",
)


def planned_routes(planned: bool, tables: dict[str, str]) -> str:
    """The SQL of the planned road zones' polygons (none unless planned; fixed text, no caller's value)."""
    zones = ", ".join(f"'{z}'" for z in PLANNED_ZONES)
    return (
        f"(SELECT z.fid, z.geom FROM {tables['land_use_plans']} z WHERE z.designation IN ({zones}))"
        if planned
        else "(SELECT NULL::bigint AS fid, NULL::geometry AS geom WHERE false)"
    )


def _planned_count(conn: psycopg.Connection, run_id: int) -> int:
    return int(
        scalar(conn.execute("SELECT count(*) FROM analysis.edges WHERE run_id = %s AND origin = 'planned'", [run_id]))
    )


def sources(conn: psycopg.Connection) -> dict[str, str]:
    """Each theme's current view (data.<theme>) as SQL text, or an empty relation when it does not exist."""
    found: dict[str, str] = {}
    for theme in THEMES:
        exists = scalar(conn.execute("SELECT to_regclass(%s) IS NOT NULL", [f"data.{theme}"]))
        found[theme] = f"data.{theme}" if exists else _EMPTY  # fixed names from THEMES, never a caller's
    return found


def pgrouting_version(conn: psycopg.Connection) -> str:
    """The pgRouting version in this database, or a one-line error saying how to get it."""
    row = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'pgrouting'").fetchone()
    if row is None:
        available = conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'pgrouting'").fetchone()
        fix = (
            f"as the database superuser (sdi_admin in the embedded cluster) run `{CREATE_EXTENSION}`"
            if available
            else "run `make setup` (it installs postgresql-15-pgrouting), then `sdi db start`"
        )
        raise ConfigError("pgRouting is not installed in this database", fix)
    return row[0]


def start_column(version: str) -> str:
    """The name of pgr_drivingDistance's start vertex column: from_v before pgRouting 3.6, start_vid since."""
    major, minor = (int(x) for x in version.split(".")[:2])
    return "start_vid" if (major, minor) >= (3, 6) else "from_v"


def run_settings(conn: psycopg.Connection) -> None:
    """The planner settings of a run, for the rest of its transaction (SET LOCAL).

    - No JIT compilation: PostGIS functions are costed high, so the planner compiled nearly every statement of
      a run, 0.5 s each (0.58 s of a 0.6 s statement on 312 streets).
    - Statistics from 6,000 sampled rows, not 30,000: a run ANALYZEs about twenty temporary tables, only for
      their sizes and join keys, and at the default that took 0.8-1.0 s of the goal's 50,000-address run
      (benchmarks/analysis_bench.py --goal); the plans and rows stay the same.
    """
    conn.execute("SET LOCAL jit = off")
    conn.execute("SET LOCAL default_statistics_target = 20")


def build(
    conn: psycopg.Connection,
    run_id: int,
    city: str,
    *,
    snap_m: float,
    margin_m: float,
    units: str = "parcels",
    planned: bool = False,
) -> dict[str, Any]:
    """Build and store the network of run_id around the city's units; returns its report (edges, vertices,
    components, connectors). planned: the road zones of land_use_plans join it (ust. 4, a what-if)."""
    run_settings(conn)
    cur = psycopg.ClientCursor(conn)  # one file of several statements with parameters
    params = {"run": run_id, "city": city, "snap": snap_m, "margin": margin_m}
    tables = sources(conn)
    unit_count = check_loaded(conn, units, city, tables)
    key = version(conn, city, units, snap_m=snap_m, margin_m=margin_m, planned=planned)
    reused = _reuse(conn, run_id, city, key)
    if reused is None:
        cur.execute(
            sqlfiles.load("analysis/network.sql").format(
                units=outline(units, tables), planned=planned_routes(planned, tables), **tables
            ),
            params,
        )
    edges, connectors = one_row(
        conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE origin = 'connector') FROM analysis.edges WHERE run_id = %s",
            [run_id],
        )
    )
    if edges == 0:
        raise InputError(
            f"city {city} has no roads or paths near its {NOUN[units]} to walk along",
            f"load its streets first: sdi load FILE --city {city} --theme roads",
        )
    sizes = conn.execute(
        "SELECT component, count(*), round(sum(cost)) FROM analysis.edges WHERE run_id = %s"
        " GROUP BY component ORDER BY count(*) DESC",
        [run_id],
    ).fetchall()
    vertices = scalar(
        conn.execute(
            "SELECT count(*) FROM (SELECT source FROM analysis.edges WHERE run_id = %s UNION"
            " SELECT target FROM analysis.edges WHERE run_id = %s) v",
            [run_id, run_id],
        )
    )
    report = {
        "version": key,
        "reused_from": reused,
        "edges": edges,
        "vertices": vertices,
        "connectors": connectors,
        "snap_m": snap_m,
        "units": units,
        "unit_count": unit_count,
        "planned": _planned_count(conn, run_id) if planned else None,
        "components": len(sizes),
        "largest": [{"component": c, "edges": n, "length_m": float(m)} for c, n, m in sizes[:10]],
    }
    logger.info("network of run %s: %s", run_id, report)
    return report


def version(conn: psycopg.Connection, city: str, units: str, *, snap_m: float, margin_m: float, planned: bool) -> str:
    """The network's version: the current loads of the themes it is built from (of every city: a street across the
    border counts), of the units' theme (their extent bounds it) and of the plans (planned routes), the build's
    parameters and its SQL. The issue has the network "rebuilt after a load of a network theme, versioned with the
    load": a run whose version an earlier run already built copies that network instead of building it again."""
    themes = ["roads", "cycle_paths", THEME[units], *(["land_use_plans"] if planned else [])]
    loads = scalar(
        conn.execute(
            "SELECT string_agg(theme || ':' || city || ':' || load_id, ',' ORDER BY theme, city, load_id)"
            " FROM sdi.layers WHERE theme = ANY(%s)",
            [themes],
        )
    )
    text = json.dumps([city, units, snap_m, margin_m, planned, loads, sqlfiles.load("analysis/network.sql")])
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _reuse(conn: psycopg.Connection, run_id: int, city: str, key: str) -> int | None:
    """Copy the edges of the newest successful run of the same network version into run_id; its id, or None."""
    row = conn.execute(
        "SELECT r.run_id FROM analysis.runs r WHERE r.city = %s AND r.status = 'successful' AND r.run_id <> %s"
        " AND r.network->>'version' = %s AND EXISTS (SELECT FROM analysis.edges e WHERE e.run_id = r.run_id)"
        " ORDER BY r.run_id DESC LIMIT 1",
        [city, run_id, key],
    ).fetchone()
    if row is None:
        return None
    conn.execute(
        "INSERT INTO analysis.edges (run_id, id, source, target, cost, origin, geom, component)"
        " SELECT %s, id, source, target, cost, origin, geom, component FROM analysis.edges WHERE run_id = %s"
        " ORDER BY id",
        [run_id, row[0]],
    )
    logger.info("network of run %s: version %s, copied from run %s", run_id, key, row[0])
    return int(row[0])
