"""Units of analysis besides the parcel (--units addresses|buildings) on the hand-made town of test_analysis.py,
with three address points and a residential building added. Distances by hand:

    A3 (500, 420): 20 m to S2a, 400 m west along it, 10 m up to the school's building: 430 m
    A1 (100, -20): 20 m to S1, 1,900 east, 400 over the bridge, 1,900 back west, 10 up: 4,230 m
    H  (tip at 600, 410, residential): 10 m to S2a, 500 west, 10 up: 520 m
    A3b (600, 425), standing in H: 25 m to S2a, 500 west, 10 up: 535 m
"""

from __future__ import annotations

import pytest
import test_analysis
from shapely.geometry import Point
from test_analysis import CITY, _pointed, _write, _xy, execute_run, load_town

from sdi.analysis import runs
from sdi.analysis.standards import parse
from sdi.core.catalogue import open_catalogue
from sdi.core.errors import ConfigError, InputError
from sdi.pipeline import run_load

pgr_settings = test_analysis.pgr_settings  # the fixture: the test database with pgRouting


def load_homes(folder, settings) -> None:
    """The town, plus address points and a residential building (the school's building kept)."""
    load_town(folder, settings)
    addresses = [
        {"street": "Rzeczna", "house_number": "3", "geometry": Point(_xy(500, 420))},
        {"street": "Rzeczna", "house_number": "3b", "geometry": Point(_xy(600, 425))},
        {"street": "Dolna", "house_number": "1", "geometry": Point(_xy(100, -20))},
    ]
    buildings = [
        {"name": "szkoła", "function": "education", "geometry": _pointed(100, 410, 40, 20, up=True)},
        {"name": "dom H", "function": "residential", "geometry": _pointed(600, 410, 20, 10, up=True)},
        {"name": "sklep", "function": "commercial", "geometry": _pointed(900, 410, 20, 10, up=True)},
    ]
    for theme, rows in (("address_points", addresses), ("buildings", buildings)):
        run_load(_write(folder, theme, rows), city=CITY, theme=theme, settings=settings)


def _run(settings, **inputs) -> tuple[dict, dict]:
    with open_catalogue(settings) as conn:
        run_id, result = execute_run(conn, **inputs)
        rows = conn.execute(
            "SELECT parcel_id, school_m, school_ok, addresses, GeometryType(geom), unit"
            " FROM analysis.parcel_access WHERE run_id = %s",
            [run_id],
        ).fetchall()
    return {r[0]: r[1:] for r in rows}, result


def test_address_points_are_units_measured_from_themselves(pgr_settings, tmp_path):
    load_homes(tmp_path / "town", pgr_settings)
    got, result = _run(pgr_settings, units="addresses")
    assert set(got) == {"Rzeczna 3", "Rzeczna 3b", "Dolna 1"} and result["network"]["units"] == "addresses"
    assert got["Rzeczna 3"][0] == pytest.approx(430, abs=0.05) and got["Rzeczna 3"][1]
    assert got["Dolna 1"][0] == pytest.approx(4230, abs=0.05) and not got["Dolna 1"][1]  # the river
    assert got["Rzeczna 3b"][0] == pytest.approx(535, abs=0.05)
    assert {r[3] for r in got.values()} == {"POINT"} and {r[2] for r in got.values()} == {1}
    with open_catalogue(pgr_settings) as conn:
        published = conn.execute("SELECT address, status FROM data.access_addresses ORDER BY address").fetchall()
        # north of the river every standard is met (parks A and B: 3.5 ha; park C, 28 ha, over the bridge)
        assert published == [("Dolna 1", "not_met"), ("Rzeczna 3", "met"), ("Rzeczna 3b", "met")]
        assert conn.execute("SELECT count(*) FROM data.access_standards").fetchone()[0] == 0  # no parcel run yet
        gmina = conn.execute(
            "SELECT parcels, addresses, unit FROM data.access_summary WHERE level = 'gmina'"
        ).fetchone()
        assert gmina == (3, 3, "addresses")


def test_residential_buildings_are_units_and_count_their_addresses(pgr_settings, tmp_path):
    load_homes(tmp_path / "town", pgr_settings)
    got, _ = _run(pgr_settings, units="buildings")
    assert set(got) == {"dom H"}  # not the school, not the shop
    assert got["dom H"][0] == pytest.approx(520, abs=0.05) and got["dom H"][1]
    assert got["dom H"][2] == 1 and got["dom H"][3] == "MULTIPOLYGON"  # Rzeczna 3b stands in it


def test_parcels_count_the_address_points_they_hold(pgr_settings, tmp_path):
    load_homes(tmp_path / "town", pgr_settings)
    got, result = _run(pgr_settings)
    # Rzeczna 3 stands in P3 and Dolna 1 in P1; none in P2 or P4
    assert [got[p][2] for p in ("P1", "P2", "P3", "P4")] == [1, 0, 1, 0] and result["network"]["unit_count"] == 4
    assert got["P3"][0] == pytest.approx(420, abs=0.05)  # unchanged by the new units


def test_missing_units_are_a_one_line_error(pgr_settings, tmp_path):
    load_town(tmp_path / "town", pgr_settings)  # no address points
    with open_catalogue(pgr_settings) as conn:
        run_id = runs.submit(conn, parse({"city": CITY, "units": "addresses"}))
        runs.claim_next_id(conn, run_id)
        with pytest.raises(InputError, match="no address points") as caught:
            runs.execute(conn, run_id)
        assert "--theme address_points" in caught.value.fix
    with pytest.raises(ConfigError, match="units"):
        parse({"city": CITY, "units": "households"})
