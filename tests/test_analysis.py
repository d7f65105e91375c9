"""The art. 13f standards on a hand-made town: two streets with a river between them, one bridge, a 3 m gap
in the northern street, a school across the river, three parks. Every distance below is computed by hand.

    y=410+  school(100)  P3(500)   park A(750)    park B(1250)
    y=400   S2a 0 ───────────────── 1000 ⟂gap 3 m⟂ 1003 ──── S2b ──── 2000 ─────── 3000
                          (river)                                        │ bridge
    y=0     S1  0 ────────────────────────────────────────────────────── 2000 ─────── 3000
    y=-10-  P1(100)                                              P2(1900)   park C (2700, 28 ha)
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import psycopg
import pytest
from shapely.geometry import LineString, Point, Polygon

from sdi.analysis import runs
from sdi.analysis.standards import parse
from sdi.core.catalogue import open_catalogue
from sdi.core.errors import ConfigError, InputError
from sdi.pipeline import run_load

CITY = "2699011"
X0, Y0 = 500_000.0, 500_000.0  # EPSG:2180, well inside Poland


def _xy(x: float, y: float) -> tuple[float, float]:
    return X0 + x, Y0 + y


def _pointed(x: float, y: float, w: float, h: float, up: bool = False) -> Polygon:
    """A polygon whose one nearest point to a street is its tip at (x, y): no tie for the projection.
    Area w*h + w*w/4."""
    s = 1 if up else -1
    return Polygon(
        [
            _xy(x, y),
            _xy(x + w / 2, y + s * w / 2),
            _xy(x + w / 2, y + s * (w / 2 + h)),
            _xy(x - w / 2, y + s * (w / 2 + h)),
            _xy(x - w / 2, y + s * w / 2),
        ]
    )


def _write(folder: Path, name: str, rows: list[dict]) -> Path:
    path = folder / f"{name}.gpkg"
    gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:2180").to_file(path)
    return path


def load_town(folder: Path, settings, gap_m: float = 3.0) -> None:
    """Load the hand-made town of the module docstring as CITY."""
    folder.mkdir(parents=True, exist_ok=True)

    def line(*pts) -> LineString:
        return LineString([_xy(*p) for p in pts])

    roads = [
        {"name": "S1", "road_class": "municipal", "geometry": line((0, 0), (3000, 0))},
        {"name": "S2a", "road_class": "municipal", "geometry": line((0, 400), (1000, 400))},
        {"name": "S2b", "road_class": "municipal", "geometry": line((1000 + gap_m, 400), (3000, 400))},
        {"name": "most", "road_class": "municipal", "geometry": line((2000, 0), (2000, 400))},
    ]
    parcels = [
        {"parcel_id": "P1", "precinct": "0001", "geometry": _pointed(100, -10, 20, 10, up=False)},
        {"parcel_id": "P2", "precinct": "0001", "geometry": _pointed(1900, -10, 20, 10, up=False)},
        {"parcel_id": "P3", "precinct": "0002", "geometry": _pointed(500, 410, 20, 10, up=True)},
        {"parcel_id": "P4", "precinct": "0002", "geometry": _pointed(100, -2000, 20, 10, up=False)},
    ]
    services = [
        {"name": "SP 1", "service_type": "primary_school", "geometry": Point(_xy(100, 430))},
        {"name": "Przedszkole 1", "service_type": "kindergarten", "geometry": Point(_xy(1900, -60))},
    ]
    buildings = [{"name": "szkoła", "function": "education", "geometry": _pointed(100, 410, 40, 20, up=True)}]
    greens = [
        {"name": "A", "publicly_accessible": True, "geometry": _pointed(750, 410, 100, 150, up=True)},
        {"name": "B", "publicly_accessible": True, "geometry": _pointed(1250, 410, 100, 150, up=True)},
        {"name": "C", "publicly_accessible": True, "geometry": _pointed(2700, -10, 400, 600)},
        {"name": "private", "publicly_accessible": False, "geometry": _pointed(520, 470, 400, 600, up=True)},
    ]
    for theme, rows in (
        ("roads", roads),
        ("parcels", parcels),
        ("public_services", services),
        ("buildings", buildings),
        ("green_areas", greens),
    ):
        run_load(_write(folder, theme, rows), city=CITY, theme=theme, settings=settings)


@pytest.fixture
def pgr_settings(settings, admin_url, db_url):
    """The test's database with pgRouting, created by the superuser as the owner may not."""
    dbname = psycopg.conninfo.conninfo_to_dict(db_url)["dbname"]
    with psycopg.connect(psycopg.conninfo.make_conninfo(admin_url, dbname=dbname), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pgrouting SCHEMA public")
    return settings


def execute_run(conn, **inputs) -> tuple[int, dict]:
    """Submit a run of CITY with `inputs`, claim it as the worker would and execute it: (run id, its result)."""
    run_id = runs.submit(conn, parse({"city": CITY, **inputs}))
    runs.claim_next_id(conn, run_id)
    return run_id, runs.execute(conn, run_id)


def _run(settings, **inputs) -> dict:
    with open_catalogue(settings) as conn:
        run_id = runs.submit(conn, parse({"city": CITY, **inputs}))
        assert runs.claim_next(conn) == run_id
        runs.execute(conn, run_id)
        rows = conn.execute(
            "SELECT parcel_id, school_m, school_ok, school_straight_ok, green_sum_ha, green_ok,"
            " green20_m, green20_ok, optional, all_ok, reason, school_by_point"
            " FROM data.access_standards ORDER BY parcel_id"
        ).fetchall()
        net = conn.execute("SELECT network FROM analysis.runs WHERE run_id = %s", [run_id]).fetchone()[0]
    names = (
        "school_m",
        "school_ok",
        "school_straight_ok",
        "green_sum_ha",
        "green_ok",
        "green20_m",
        "green20_ok",
        "optional",
        "all_ok",
        "reason",
        "school_by_point",
    )
    return {"network": net, **{r[0]: dict(zip(names, r[1:], strict=True)) for r in rows}}


def test_distances_along_the_network_match_the_hand_computed_ones(pgr_settings, tmp_path):
    load_town(tmp_path / "town", pgr_settings)
    got = _run(pgr_settings, optional={"kindergarten": 800})
    assert got["network"]["components"] == 1 and got["network"]["connectors"] >= 1  # the 3 m gap was closed
    p1, p2, p3, p4 = got["P1"], got["P2"], got["P3"], got["P4"]
    # P1: 10 to S1, 1,900 to the bridge, 400 over it, 1,900 back west, 10 up to the school's building.
    assert p1["school_m"] == pytest.approx(4220, abs=0.05)
    assert p1["school_straight_ok"] and not p1["school_ok"]  # 420 m by straight line: the river is in between
    assert p1["green_sum_ha"] == 0 and not p1["green_ok"]
    assert p1["green20_m"] == pytest.approx(10 + 2600 + 10, abs=0.05) and p1["green20_ok"]
    assert p2["school_m"] == pytest.approx(2420, abs=0.05) and not p2["school_ok"]  # a town: 1,500 m
    # park B at 1,270 m and park C at 820 m count; park A at 1,770 m does not: 1.75 + 28 ha
    assert p2["green_sum_ha"] == pytest.approx(29.75) and p2["green_ok"]
    assert p2["green20_m"] == pytest.approx(820, abs=0.05)
    assert p2["optional"]["kindergarten"]["m"] == pytest.approx(70, abs=0.05)  # along the same edge of S1
    assert p2["optional"]["kindergarten"]["ok"]
    assert p3["school_m"] == pytest.approx(420, abs=0.05) and p3["school_ok"]
    assert p3["green_sum_ha"] == pytest.approx(3.5) and p3["green_ok"]  # A (270 m) + B (770 m), not the private one
    assert p3["green20_m"] == pytest.approx(10 + 1500 + 400 + 700 + 10, abs=0.05) and p3["green20_ok"]
    assert p3["optional"]["kindergarten"]["m"] == pytest.approx(10 + 1500 + 400 + 100 + 60, abs=0.05)
    assert not p3["optional"]["kindergarten"]["ok"] and not p3["all_ok"]
    assert p3["school_by_point"] is False  # its building was found around the point
    assert p4["reason"].startswith("no street or path within 500") and not p4["school_ok"]


def test_a_gap_wider_than_the_snap_distance_splits_the_network_and_says_why(pgr_settings, tmp_path):
    load_town(tmp_path / "town", pgr_settings)
    got = _run(pgr_settings, snap_m=0, town="rural")
    assert got["network"]["components"] == 2 and got["network"]["connectors"] == 0
    assert got["P2"]["school_m"] is None and "no primary school reachable" in got["P2"]["reason"]
    assert got["P3"]["school_ok"]  # on the school's side of the gap


def test_rural_parcels_get_3000_m(pgr_settings, tmp_path):
    load_town(tmp_path / "town", pgr_settings)
    got = _run(pgr_settings, town="rural")
    assert got["P2"]["school_ok"] and not got["P1"]["school_ok"]


def test_bad_inputs_are_one_line_errors():
    for bad, word in (
        ({"city": "26990"}, "city"),
        ({"city": CITY, "green_sum_m": "x"}, "number"),
        ({"city": CITY, "school_town_m": float("nan")}, "range"),
        ({"city": CITY, "rm": 1}, "unknown"),
        ({"city": CITY, "optional": {"casino": 100}}, "optional kind"),
        ({"city": CITY, "town": "x"}, "town"),
    ):
        with pytest.raises(ConfigError, match=word):
            parse(bad)


def test_a_city_without_roads_fails_with_the_reason(pgr_settings, tmp_path):
    folder = tmp_path / "bare"
    folder.mkdir()
    run_load(
        _write(folder, "parcels", [{"parcel_id": "X", "geometry": _pointed(0, 0, 20, 10)}]),
        city=CITY,
        theme="parcels",
        settings=pgr_settings,
    )
    with open_catalogue(pgr_settings) as conn:
        run_id = runs.submit(conn, parse({"city": CITY}))
        runs.claim_next(conn)
        with pytest.raises(InputError, match="no roads"):
            runs.execute(conn, run_id)
        assert runs.status(conn, run_id)["status"] == "failed"


def process_call(
    method: str, path: str, body: dict | None = None, auth: str | None = None, prefer: str | None = None
) -> tuple[int, Any]:
    """One request to the process API's WSGI application (sdi.analysis.service.app): status code and JSON."""
    from sdi.analysis import service

    raw = json.dumps(body).encode() if body is not None else b""
    env = {"REQUEST_METHOD": method, "PATH_INFO": path, "CONTENT_LENGTH": str(len(raw)), "wsgi.input": io.BytesIO(raw)}
    if auth:
        env["HTTP_AUTHORIZATION"] = f"Bearer {auth}"
    if prefer:
        env["HTTP_PREFER"] = prefer
    seen: dict[str, str] = {}
    out = b"".join(service.app(env, lambda status, headers: seen.update(status=status)))
    return int(seen["status"].split()[0]), json.loads(out)


@pytest.fixture
def process_api(pgr_settings, tmp_path, monkeypatch):
    """The town loaded for the process API's WSGI application (process_call); yields a token to execute with."""
    from sdi.core import tokens
    from sdi.core.settings import get_settings

    load_town(tmp_path / "town", pgr_settings)
    monkeypatch.setenv("SDI_DATABASE_URL", pgr_settings.database_url)
    get_settings.cache_clear()
    with open_catalogue(pgr_settings) as conn:
        token = tokens.add(conn, "planner", scope="analyse")
        conn.commit()
    yield token
    get_settings.cache_clear()


def test_the_process_api_queues_a_job_that_the_runner_runs(process_api, pgr_settings):
    from sdi.core import tokens

    token = process_api
    with open_catalogue(pgr_settings) as conn:
        reader = tokens.add(conn, "reader")  # a read token opens restricted themes, not the process
        conn.commit()
    call = process_call
    assert call("GET", "/analysis/processes")[1]["processes"][0]["id"] == "access-standards"
    assert call("POST", "/analysis/processes/access-standards/execution", {"inputs": {"city": CITY}})[0] == 401
    status, refused = call("POST", "/analysis/processes/access-standards/execution", {"inputs": {"city": CITY}}, reader)
    assert status == 403 and "--scope analyse" in refused["fix"]
    status, bad = call(
        "POST",
        "/analysis/processes/access-standards/execution",
        {"inputs": {"city": CITY, "snap_m": "'; DROP TABLE x"}},
        token,
    )
    assert status == 400 and "number" in bad["detail"]
    status, job = call(
        "POST", "/analysis/processes/access-standards/execution", {"inputs": {"city": CITY}}, token, "respond-async"
    )
    assert status == 201 and job["status"] == "accepted"
    assert runs.work(pgr_settings, once=True) == 1
    status, result = call("GET", f"/analysis/jobs/{job['jobID']}/results")
    assert result["status"] == "successful" and result["summary"]["gmina"][0]["parcels"] == 4
    assert call("GET", "/analysis/jobs/999999")[0] == 404


def test_the_long_running_worker_commits_each_run(pgr_settings, tmp_path):
    """`sdi analysis worker` (no --once) keeps one connection for ever: each run must be committed when it ends,
    not when the worker stops (a bare SELECT once left a transaction open and every run only a savepoint)."""
    load_town(tmp_path / "town", pgr_settings)
    with open_catalogue(pgr_settings) as conn:
        run_id = runs.submit(conn, parse({"city": CITY}))
        conn.commit()
    seen: list[str] = []

    def idle() -> bool:  # called when the queue is empty, on the worker's still-open connection
        with psycopg.connect(pgr_settings.database_url) as other:
            seen.append(other.execute("SELECT status FROM analysis.runs WHERE run_id = %s", [run_id]).fetchone()[0])
        return False  # stop

    assert runs.work(pgr_settings, idle=idle) == 1
    assert seen == ["successful"]  # visible to another connection while the worker still runs
