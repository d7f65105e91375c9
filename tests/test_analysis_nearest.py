"""The nearest facility by one search (sdi/sql/analysis/nearest.sql: a virtual vertex joined to every facility)
against a search per facility (reach.sql, the nearest per vertex by DISTINCT ON): the same distance and the same
facility for every vertex, ties (many, on a grid of whole metres) to the lowest id; and the set-wise checks of
migration 0016 that replaced the per-row foreign keys of the results."""

from __future__ import annotations

import random

import psycopg
import pytest
import test_analysis
from psycopg import sql

from sdi.analysis.network import pgrouting_version, start_column
from sdi.core import sqlfiles
from sdi.core.catalogue import open_catalogue

pgr_settings = test_analysis.pgr_settings  # the fixture: the test database with pgRouting


def _graph(conn: psycopg.Connection, seed: int, side: int = 14) -> None:
    """A grid of side x side vertices with whole-metre edges (ties everywhere), a few edges missing, and facilities
    of kind 'k' joined to both ends of an edge, some pairs sharing a spot (equal everywhere)."""
    rnd = random.Random(seed)
    conn.execute("CREATE TEMP TABLE _edges (id bigint, source bigint, target bigint, cost float8) ON COMMIT DROP")
    conn.execute("CREATE TEMP TABLE _att (kind text, vid bigint, fid bigint, node bigint, cost float8) ON COMMIT DROP")
    conn.execute("CREATE TEMP TABLE _fac (vid bigint, kind text, fid bigint) ON COMMIT DROP")
    conn.execute("CREATE TEMP TABLE _dist (kind text, node bigint, fid bigint, cost float8) ON COMMIT DROP")
    edges, n = [], 0
    for i in range(side):
        for j in range(side):
            v = i * side + j + 1
            for w in ([v + 1] if j + 1 < side else []) + ([v + side] if i + 1 < side else []):
                if rnd.random() > 0.05:
                    n += 1
                    edges.append((n, v, w, float(rnd.choice([50, 100, 100, 150]))))
    facilities, att = [], []
    for k in range(9):
        vid, fid = 1_000_000_000_000 + k, rnd.randrange(1, 10_000)
        shared = k % 3 == 0  # k = 0, 3 and 6 stand on one spot under three ids: equal everywhere
        e = edges[0] if shared else rnd.choice(edges)
        f = 0.5 if shared else rnd.choice([0.0, 0.5, 0.25, 1.0])
        facilities.append((vid, "k", fid))
        att += [("k", vid, fid, e[1], 10 + f * e[3]), ("k", vid, fid, e[2], 10 + (1 - f) * e[3])]
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO _edges VALUES (%s, %s, %s, %s)", edges)
        cur.executemany("INSERT INTO _fac VALUES (%s, %s, %s)", facilities)
        cur.executemany("INSERT INTO _att VALUES (%s, %s, %s, %s, %s)", att)


def _nearest(conn: psycopg.Connection, name: str, limit: float) -> dict[int, tuple[int, float]]:
    query = sql.SQL(sqlfiles.load(f"analysis/{name}.sql")).format(
        kind=sql.Literal("k"),
        limit=sql.Literal(limit),
        nearest=sql.Literal(True),
        start=sql.Identifier(start_column(pgrouting_version(conn))),
    )
    conn.execute(query)
    rows = conn.execute("SELECT node, fid, cost FROM _dist").fetchall()
    conn.execute("DELETE FROM _dist")
    return {node: (fid, cost) for node, fid, cost in rows}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_one_search_finds_the_same_nearest_facility_as_a_search_per_facility(pgr_settings, seed):
    with open_catalogue(pgr_settings) as conn:
        _graph(conn, seed)
        for limit in (400.0, 1e9):
            one, each = _nearest(conn, "nearest", limit), _nearest(conn, "reach", limit)
            assert len(each) > 20
            assert one == each  # the same vertices, distances (exactly) and facilities, ties to the lowest id
        conn.rollback()


def test_results_name_an_existing_run_and_go_with_it(pgr_settings):
    with open_catalogue(pgr_settings) as conn:
        run_id = conn.execute("INSERT INTO analysis.runs (city) VALUES ('2699011') RETURNING run_id").fetchone()[0]
        row = (
            "INSERT INTO analysis.parcel_access (run_id, city, parcel_fid, town, school_limit_m, school_ok,"
            " school_straight_ok, green_ok, green_straight_ok, green20_ok, green20_straight_ok, all_ok, geom)"
            " VALUES (%s, '2699011', %s, true, 1500, false, false, false, false, false, false, false,"
            " 'SRID=2180;POINT(1 1)')"
        )
        edge = "INSERT INTO analysis.edges VALUES (%s, 1, 1, 2, 1, 0, 'roads', 'SRID=2180;LINESTRING(0 0, 1 0)')"
        conn.execute(row, [run_id, 1])
        conn.execute(edge, [run_id])
        conn.commit()
        for statement in (row, edge):
            with pytest.raises(psycopg.errors.ForeignKeyViolation, match="analysis.runs"):
                conn.execute(statement, [run_id + 1000, 2] if statement is row else [run_id + 1000])
            conn.rollback()
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            conn.execute("UPDATE analysis.parcel_access SET run_id = run_id + 1000 WHERE run_id = %s", [run_id])
        conn.rollback()
        conn.execute("DELETE FROM analysis.runs WHERE run_id = %s", [run_id])  # ON DELETE CASCADE, as before
        for table in ("parcel_access", "edges"):
            left = conn.execute(f"SELECT count(*) FROM analysis.{table} WHERE run_id = %s", [run_id]).fetchone()[0]
            assert left == 0, table
        conn.rollback()
