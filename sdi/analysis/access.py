"""Distances per parcel and standard, along the network of a run: multi-source searches from the facilities
(pgr_drivingDistance with many start vertices), never one route per parcel."""

from __future__ import annotations

import logging
import time

import psycopg
from psycopg import sql

from sdi.analysis import network, units
from sdi.analysis.standards import OPTIONAL_KINDS, Standards
from sdi.core import sqlfiles
from sdi.core.db import scalar

logger = logging.getLogger(__name__)

_TOWN_TYPES = "('urban', 'town_in_urban_rural', 'warsaw_district', 'city_delegation')"
# Where a facility's own building is looked for around its point (m).
BUILDING_M = 10.0
# Network vertices this close to a green area join it: it is measured to its boundary, not one point.
ATTACH_M = 30.0
# Units within this distance of a street find their edge set-wise; only the others by a KNN search of their own.
NEAR_M = 30.0
#: Memory for each sort and hash of a run (PostgreSQL's default is 4MB).
WORK_MEM = "64MB"


def compute(conn: psycopg.Connection, run_id: int, std: Standards, *, explain: list[dict] | None = None) -> dict:
    """Write analysis.parcel_access for run_id (its network already built); returns timings and warnings.

    explain: a list to which each statement of the projections and per-unit results is appended with its
    EXPLAIN (ANALYZE, BUFFERS) plan and time (the benchmark's profile; the statements still run).
    """
    timings: dict[str, float] = {}
    start_col = network.start_column(network.pgrouting_version(conn))
    # The per-unit joins and sorts of a 50,000-unit run spilled 13 to 37 MB to disk at the default 4 MB;
    # SET LOCAL: for this run's transaction only.
    conn.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
    network.run_settings(conn)
    cur = psycopg.ClientCursor(conn)
    params = {
        "run": run_id,
        "city": std.city,
        "max_access": std.max_access_m,
        "building_m": BUILDING_M,
        "attach_m": ATTACH_M,
        "near_m": NEAR_M,
        "optional": list(std.optional),
        "big_ha": std.green_big_ha,
        "green_sum_m": std.green_sum_m,
        "green_sum_ha": std.green_sum_ha,
        "green_big_m": std.green_big_m,
        "school_town_m": std.school_town_m,
        "school_rural_m": std.school_rural_m,
        "units": std.units,
    }
    t = time.perf_counter()
    tables = network.sources(conn)
    text = sqlfiles.load("analysis/facilities.sql").format(units=units.script(std.units, tables), **tables)
    _execute(cur, text, params, explain)
    timings["project_s"] = time.perf_counter() - t
    limits = _limits(std)
    conn.execute("CREATE TEMP TABLE _limits (kind text, limit_m double precision, optional boolean) ON COMMIT DROP")
    with conn.cursor() as c:
        c.executemany("INSERT INTO _limits VALUES (%s, %s, %s)", limits)
    t = time.perf_counter()
    for kind, limit, _ in limits:
        # Nearest kinds search twice the limit, so that a failing parcel still shows how far it is.
        nearest = kind != "green"
        _reach(conn, kind, limit * 2 if nearest else limit, nearest, start_col)
    timings["search_s"] = time.perf_counter() - t
    t = time.perf_counter()
    text = sqlfiles.load("analysis/parcels.sql").format(town=_town(conn, std), optional=_optional(std), **tables)
    _execute(cur, text, params, explain)
    timings["parcels_s"] = time.perf_counter() - t
    counts: dict[str, int] = dict(conn.execute("SELECT kind, count(DISTINCT fid) FROM _fac GROUP BY kind").fetchall())
    warnings = [
        f"no {kind} in the area: every unit fails that standard" for kind, _, _ in limits if not counts.get(kind)
    ]
    if std.town == "auto" and not _has_town_units(conn):
        # The stricter distance: a parcel wrongly passed would let a plan zone housing the law does not allow.
        warnings.append(
            "no administrative_units with a municipality type: every unit counted as in a town"
            f" ({std.school_town_m:g} m); use --town rural or load the units"
        )
    return {"timings": {k: round(v, 3) for k, v in timings.items()}, "facilities": counts, "warnings": warnings}


def _execute(cur: psycopg.ClientCursor, text: str, params: dict, explain: list[dict] | None) -> None:
    if explain is None:
        cur.execute(text, params)
    else:
        _explained(cur, text, params, explain)


def _explained(cur: psycopg.ClientCursor, text: str, params: dict, found: list[dict]) -> None:
    """Run the statements of text one by one, under EXPLAIN (ANALYZE, BUFFERS) where PostgreSQL allows it."""
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    for statement in filter(None, (s.strip() for s in body.split(";"))):
        t = time.perf_counter()
        verb = statement.split(None, 1)[0].upper()
        # EXPLAIN takes queries and CREATE TABLE ... AS, not a table's or an index's definition
        plannable = verb in ("SELECT", "INSERT", "UPDATE", "DELETE") or (
            verb == "CREATE" and " AS" in statement.upper() and "CREATE INDEX" not in statement.upper()
        )
        cur.execute(("EXPLAIN (ANALYZE, BUFFERS) " if plannable else "") + statement, params)
        plan = "\n".join(r[0] for r in cur.fetchall()) if plannable else ""
        found.append(
            {"statement": " ".join(statement.split()), "plan": plan, "ms": round(1000 * (time.perf_counter() - t), 1)}
        )


def _limits(std: Standards) -> list[tuple[str, float, bool]]:
    fixed = [
        ("primary_school", max(std.school_town_m, std.school_rural_m), False),
        ("green", std.green_sum_m, False),
        ("green20", std.green_big_m, False),
    ]
    return fixed + [(kind, dist, True) for kind, dist in std.optional.items()]


def _optional(std: Standards) -> str:
    """The SELECT of _opt (fid, optional, all_ok): the optional kinds' JSON object and whether all pass, per unit.
    Fixed text: each kind is a name of OPTIONAL_KINDS (checked by standards.parse) and each limit a float."""
    if not std.optional:
        return "SELECT NULL::bigint AS fid, NULL::jsonb AS optional, NULL::boolean AS all_ok WHERE false"
    pairs, oks, joins = [], [], []
    for i, (kind, limit) in enumerate(std.optional.items()):
        if kind not in OPTIONAL_KINDS:
            raise ValueError(kind)
        lim = f"{float(limit)!r}::float8"
        ok = f"coalesce(n{i}.cost <= {lim}, false)"
        pairs.append(
            f"'{kind}', jsonb_build_object('m', round(n{i}.cost::numeric, 2), 'fid', n{i}.fac, 'limit_m', {lim},"
            f" 'ok', {ok}, 'straight_ok', s{i}.fid IS NOT NULL)"
        )
        oks.append(ok)
        joins.append(
            f"LEFT JOIN _near n{i} ON n{i}.fid = p.fid AND n{i}.kind = '{kind}'"
            f" LEFT JOIN _straight s{i} ON s{i}.fid = p.fid AND s{i}.kind = '{kind}'"
        )
    return (
        f"SELECT p.fid, jsonb_build_object({', '.join(pairs)}) AS optional, {' AND '.join(oks)} AS all_ok"
        f" FROM _pp p {' '.join(joins)}"
    )


def _reach(conn: psycopg.Connection, kind: str, limit: float, nearest: bool, start_col: str) -> None:
    if scalar(conn.execute("SELECT count(*) FROM _fac WHERE kind = %s", [kind])) == 0:
        return  # pgr_drivingDistance with no start vertex is an error, and no facility is an answer
    # The nearest kinds need one distance per vertex: one search from all facilities at once (nearest.sql);
    # the 3 ha green sum needs every green area's own distances (reach.sql, a search per facility).
    name = "analysis/nearest.sql" if nearest else "analysis/reach.sql"
    query = sql.SQL(sqlfiles.load(name)).format(
        kind=sql.Literal(kind), limit=sql.Literal(limit), nearest=sql.Literal(nearest), start=sql.Identifier(start_col)
    )
    conn.execute(query)


def _has_town_units(conn: psycopg.Connection) -> bool:
    if scalar(conn.execute("SELECT to_regclass('data.administrative_units') IS NULL")):
        return False
    return bool(
        scalar(
            conn.execute(
                f"SELECT EXISTS (SELECT FROM data.administrative_units WHERE municipality_type IN {_TOWN_TYPES})"
            )
        )
    )


def _town(conn: psycopg.Connection, std: Standards) -> str:
    """The SQL that says whether parcel _pp lies in a town (fixed text: no caller's value reaches it)."""
    if std.town != "auto":
        return "true" if std.town == "town" else "false"
    if not _has_town_units(conn):
        return "true"
    return (
        f"EXISTS (SELECT FROM data.administrative_units a WHERE a.municipality_type IN {_TOWN_TYPES}"
        " AND ST_Intersects(a.geom, _pp.geom))"
    )
