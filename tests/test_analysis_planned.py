"""Planned routes (art. 13f ust. 4): a run may add the road zones of a local plan to the network, to show what the
plan would change. On the hand-made town of test_analysis.py, a local plan zones a bridge (KDD, 12 m wide)
from S1 to S2a at x = 100, between the two streets' own zones (y 6 to 394):

    P1: 10 m to S1, 6 m to the zone's axis, 388 m over the planned bridge, 6 m to S2a, 10 m up to the school: 420 m
    (4,220 m without it, round by the existing bridge at x = 2,000). The what-if run does not replace the
    published results of the network as it is.
"""

from __future__ import annotations

import pytest
import test_analysis
from shapely.geometry import box
from test_analysis import CITY, X0, Y0, _write, load_town

from sdi.analysis import runs
from sdi.analysis.standards import parse
from sdi.core.catalogue import open_catalogue
from sdi.pipeline import run_load

pgr_settings = test_analysis.pgr_settings  # the fixture: the test database with pgRouting


def _load_plan(folder, settings) -> None:
    zones = [
        {
            "plan_id": "MPZP/1/2026",
            "zone_id": "1KDD",
            "designation": "KDD",
            "geometry": box(X0 + 94, Y0 + 6, X0 + 106, Y0 + 394),
        },
        {
            "plan_id": "MPZP/1/2026",
            "zone_id": "1MN",
            "designation": "MN",  # housing: not a route
            "geometry": box(X0 + 300, Y0 + 6, X0 + 400, Y0 + 394),
        },
    ]
    run_load(_write(folder, "land_use_plans", zones), city=CITY, theme="land_use_plans", settings=settings)


def _run(settings, **inputs) -> tuple[int, dict]:
    with open_catalogue(settings) as conn:
        run_id = runs.submit(conn, parse({"city": CITY, **inputs}))
        runs.claim_next_id(conn, run_id)
        result = runs.execute(conn, run_id)
        rows = conn.execute(
            "SELECT parcel_id, school_m, school_ok FROM analysis.parcel_access WHERE run_id = %s", [run_id]
        ).fetchall()
    return run_id, {"network": result["network"], **{r[0]: r[1:] for r in rows}}


def test_a_planned_bridge_makes_the_failing_parcel_pass(pgr_settings, tmp_path):
    load_town(tmp_path / "town", pgr_settings)
    _load_plan(tmp_path / "town", pgr_settings)
    as_is, now = _run(pgr_settings)
    assert now["P1"][0] == pytest.approx(4220, abs=0.05) and not now["P1"][1]  # the plan's zone is not a street
    assert now["network"]["planned"] is None
    what_if, planned = _run(pgr_settings, planned=True)
    assert planned["P1"][0] == pytest.approx(420, abs=0.05) and planned["P1"][1]
    assert planned["network"]["planned"] >= 1 and planned["network"]["components"] == 1
    assert planned["P3"][0] == pytest.approx(now["P3"][0], abs=0.05)  # the bridge is no shorter for P3
    with open_catalogue(pgr_settings) as conn:
        shown = conn.execute("SELECT DISTINCT run_id FROM data.access_standards").fetchall()
        assert shown == [(as_is,)]  # the what-if run is not what the layers publish
        origins = dict(
            conn.execute(
                "SELECT origin, round(sum(cost)) FROM analysis.edges WHERE run_id = %s GROUP BY origin", [what_if]
            ).fetchall()
        )
        assert origins["planned"] == pytest.approx(388, abs=1)  # the axis, between the streets' zones


def test_planned_without_a_plan_changes_nothing(pgr_settings, tmp_path):
    load_town(tmp_path / "town", pgr_settings)
    _, planned = _run(pgr_settings, planned=True)
    assert planned["network"]["planned"] == 0 and planned["P1"][0] == pytest.approx(4220, abs=0.05)
