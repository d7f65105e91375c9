"""The walking network is versioned with the loads it is built from (issue 21: "rebuilt after a load of a network
theme, versioned with the load"): a second run on the same loads and parameters copies the first run's network,
with the same edges and the same answers; a new load of the streets, or another snap distance, builds it again."""

from __future__ import annotations

import test_analysis
from shapely.geometry import LineString
from test_analysis import CITY, _write, execute_run, load_town

from sdi.core.catalogue import open_catalogue
from sdi.pipeline import run_load

pgr_settings = test_analysis.pgr_settings  # the fixture: the test database with pgRouting


def _run(settings, **inputs) -> tuple[dict, list, list]:
    with open_catalogue(settings) as conn:
        run_id, result = execute_run(conn, **inputs)
        edges = conn.execute(
            "SELECT id, source, target, cost, component, origin, ST_AsText(geom) FROM analysis.edges"
            " WHERE run_id = %s ORDER BY id",
            [run_id],
        ).fetchall()
        answers = conn.execute(
            "SELECT parcel_id, school_m, school_fid, green_sum_ha, green20_m, green20_ok FROM analysis.parcel_access"
            " WHERE run_id = %s ORDER BY parcel_id",
            [run_id],
        ).fetchall()
    return result, edges, answers


def test_a_run_on_the_same_loads_reuses_the_network_and_a_new_load_rebuilds_it(pgr_settings, tmp_path):
    load_town(tmp_path / "town", pgr_settings)
    first, edges, answers = _run(pgr_settings)
    assert first["network"]["reused_from"] is None and len(edges) > 5
    again, edges2, answers2 = _run(pgr_settings, optional={"kindergarten": 800})  # other kinds: same network
    assert again["network"]["reused_from"] == first["run_id"]
    assert again["network"]["version"] == first["network"]["version"]
    assert edges2 == edges and answers2 == answers
    assert {k: again["network"][k] for k in ("edges", "vertices", "components", "connectors")} == {
        k: first["network"][k] for k in ("edges", "vertices", "components", "connectors")
    }
    other, _, _ = _run(pgr_settings, snap_m=0)  # another snap distance: another network (the gap stays open)
    assert other["network"]["reused_from"] is None and other["network"]["components"] == 2
    # A new load of the streets: the footbridge over the river joins them, and the network is built again.
    road = {
        "name": "kładka",
        "road_class": "municipal",
        "geometry": LineString([(500_500, 500_000), (500_500, 500_400)]),
    }
    run_load(_write(tmp_path, "cycle_paths", [road]), city=CITY, theme="cycle_paths", settings=pgr_settings)
    rebuilt, edges3, answers3 = _run(pgr_settings)
    assert rebuilt["network"]["reused_from"] is None and rebuilt["network"]["version"] != first["network"]["version"]
    assert len(edges3) > len(edges)
    school = {a[0]: a[1] for a in answers3}
    assert school["P1"] < dict((a[0], a[1]) for a in answers)["P1"]  # P1 now crosses the river by the footbridge
