"""The distance classes the art. 13f result layers are styled by (migration 0017), on the hand-made town of
tests/test_analysis.py, whose distances are computed by hand there:

    P1: school 4,220 m, the 20 ha park 2,620 m, no public green within 1,500 m (0 ha)
    P2: school 2,420 m, the 20 ha park 820 m, 29.75 ha within 1,500 m
    P3: school 420 m, the 20 ha park 2,620 m, 3.5 ha within 1,500 m, kindergarten 2,070 m
    P4: no street within reach (unreachable)

A class is the worst of the distances against their limits: met within half of every limit, met, not met
within 1.5x, not met beyond; the 3 ha sum is an area and only decides met or not.
"""

from __future__ import annotations

import re

import pytest
import test_analysis
import yaml
from test_analysis import execute_run, load_town

from sdi.core.catalogue import open_catalogue

from conftest import ROOT

pgr_settings = test_analysis.pgr_settings  # the fixture: the test database with pgRouting
CLASSES = ["met_half", "met", "not_met_near", "not_met_far", "unreachable"]


def _classes(settings, **inputs) -> dict[str, tuple[str, str]]:
    with open_catalogue(settings) as conn:
        execute_run(conn, **inputs)
        rows = conn.execute("SELECT parcel_id, status, distance_class FROM data.access_standards").fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


def test_each_parcel_gets_the_class_of_its_worst_distance(pgr_settings, tmp_path):
    load_town(tmp_path / "town", pgr_settings)
    # The defaults (a town: school 1,500 m) and a kindergarten at 800 m: every parcel is far off one limit.
    # P1 school 4,220 / 1,500; P2 school 2,420 / 1,500 = 1.61; P3 kindergarten 2,070 / 800.
    assert _classes(pgr_settings, optional={"kindergarten": 800}) == {
        "P1": ("not_met", "not_met_far"),
        "P2": ("not_met", "not_met_far"),
        "P3": ("not_met", "not_met_far"),
        "P4": ("unreachable", "unreachable"),
    }
    # Wider limits, the run's own green_big_m read back from its parameters:
    # P1 school 4,220 / 3,000 = 1.41 (and no green): not met, near. P2 school 2,420 / 3,000 = 0.81: met.
    # P3 school 420 / 3,000 = 0.14, park 2,620 / 6,000 = 0.44: met within half of every limit.
    assert _classes(pgr_settings, school_town_m=3000, green_big_m=6000) == {
        "P1": ("not_met", "not_met_near"),
        "P2": ("met", "met"),
        "P3": ("met", "met_half"),
        "P4": ("unreachable", "unreachable"),
    }


@pytest.mark.parametrize("layer", ["access_standards", "access_buildings", "access_addresses"])
def test_the_shipped_styles_colour_every_distance_class(layer):
    spec = yaml.safe_load((ROOT / "styles" / "results.yaml").read_text(encoding="utf-8"))[layer]
    assert spec["classify"] == "distance_class" and list(spec["classes"]) == CLASSES
    qml = (ROOT / "styles" / f"{layer}.qml").read_text(encoding="utf-8")
    assert 'attr="distance_class"' in qml
    assert re.findall(r'<category symbol="\d+" value="([^"]*)"', qml)[:5] == CLASSES
