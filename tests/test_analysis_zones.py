"""Summaries per planning zone (land_use_plans), the share of parcels and of address points that comply, the
worst-served areas and each facility's catchment, on the hand-made town with its address points
(test_analysis_units.py). Two housing zones of a local plan: 1MN south of the river holds P1 and P2 (both miss the
school: 4,220 m and 2,420 m against 1,500 m) and Dolna 1 in P1; 2MN north of it holds P3 (every standard met)
and Rzeczna 3. Rzeczna 3b stands in no parcel.
"""

from __future__ import annotations

import pytest
import test_analysis
from shapely.geometry import box
from test_analysis import CITY, X0, Y0, _write
from test_analysis_units import load_homes

from sdi.analysis import runs
from sdi.analysis.standards import parse
from sdi.core.catalogue import open_catalogue
from sdi.pipeline import run_load

pgr_settings = test_analysis.pgr_settings  # the fixture: the test database with pgRouting
PLAN = "MPZP/7/2026"


def test_summaries_per_planning_zone_and_catchments(pgr_settings, tmp_path):
    load_homes(tmp_path / "town", pgr_settings)
    zones = [
        {"plan_id": PLAN, "zone_id": "1MN", "designation": "MN", "geometry": box(X0, Y0 - 40, X0 + 2000, Y0 - 5)},
        {"plan_id": PLAN, "zone_id": "2MN", "designation": "MN", "geometry": box(X0, Y0 + 405, X0 + 1000, Y0 + 440)},
    ]
    run_load(
        _write(tmp_path / "town", "land_use_plans", zones), city=CITY, theme="land_use_plans", settings=pgr_settings
    )
    with open_catalogue(pgr_settings) as conn:
        run_id = runs.submit(conn, parse({"city": CITY}))
        runs.claim_next_id(conn, run_id)
        summary = runs.execute(conn, run_id)["summary"]
        school_fid = conn.execute(
            "SELECT fid FROM data.public_services WHERE service_type = 'primary_school'"
        ).fetchone()[0]
        park_c = conn.execute("SELECT fid FROM data.green_areas WHERE name = 'C'").fetchone()[0]
        layer = dict(conn.execute("SELECT area, status FROM data.access_summary WHERE level = 'plan_zone'"))
    zones = {z["zone"]: z for z in summary["plan_zones"]}
    south, north = zones[f"1MN / {PLAN}"], zones[f"2MN / {PLAN}"]
    assert (south["parcels"], south["all_standards"], south["addresses"], south["addresses_ok"]) == (2, 0, 1, 0)
    assert (north["parcels"], north["all_standards"], north["addresses"], north["addresses_ok"]) == (1, 1, 1, 1)
    assert layer == {f"1MN / {PLAN}": "not_met", f"2MN / {PLAN}": "met"}
    gmina = summary["gmina"][0]
    assert gmina["parcels"] == 4 and gmina["addresses"] == 2 and gmina["addresses_ok"] == pytest.approx(0.5)
    assert summary["worst"][0]["all_standards"] == 0 and summary["worst"][-1]["area"] == f"2MN / {PLAN}"
    catch = {(c["kind"], c["facility_fid"]): (c["name"], c["units"], c["addresses"]) for c in summary["catchments"]}
    assert catch[("primary_school", school_fid)] == ("SP 1", 1, 1)  # P3 alone is within 1,500 m
    assert catch[("green20", park_c)] == ("C", 3, 2)  # P1, P2 and P3 within 3,000 m; P4 has no street
