"""The art. 13f analysis on real data, checked against a pure-Python baseline: BDOT10k streets and buildings of a
Warsaw extract and the RSPO primary schools of Śródmieście (../shared/data; skipped where it is absent).

sdi builds the walking network itself (snapping, noding, connectors); networkx then runs Dijkstra on the SAME
graph, read back from the database: the edges sdi built, and the facilities' and parcels' projections onto them
as sdi computed them. Every distance must agree to the centimetre. The projections are checked apart, against
shapely, so that the comparison does not just repeat sdi's own numbers.

The extract has no cadastral parcels: residential building footprints stand in for them (each its own unit).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import geopandas as gpd
import psycopg
import pytest
import shapely
import yaml
from shapely import wkb

from sdi.analysis import access, network, runs
from sdi.analysis.standards import parse
from sdi.core.catalogue import open_catalogue
from sdi.core.settings import Settings
from sdi.pipeline import run_load

from conftest import ROOT, SHARED_DATA, fresh_database

nx = pytest.importorskip("networkx")
from test_analysis_baseline import graph, nearest, snapshot  # noqa: E402  (after the skip: it needs networkx)

CITY = "1465011"
BDOT = "bdot10k_gml_sample/PL.PZGiK.330.1465__OT_{}.xml"
RSPO = "rspo_szkoly/146510_Srodmiescie_dz.geojson"
MAPPINGS = ROOT / "config" / "mappings"
CM = 0.01
RESIDENTIAL = ("1110", "1121", "1122")  # PKOB: one-family, two-family, multi-family houses


def _primary_schools(shared: Path, folder: Path) -> tuple[Path, Path]:
    """RSPO's schools teaching ISCED level 1 (primary), with a mapping that names them primary_school.

    RSPO in OSM tag form says amenity=school for every school; the level is in isced:level ("1;2" for a
    primary school). The shipped mapping therefore gives them service_type `school`."""
    data = json.loads((shared / RSPO).read_text(encoding="utf-8"))
    data["features"] = [
        f
        for f in data["features"]
        if f["properties"].get("amenity") == "school"
        and "1" in str(f["properties"].get("isced:level") or "").split(";")
    ]
    path = folder / "primary_schools.geojson"
    path.write_text(json.dumps(data), encoding="utf-8")
    mapping = folder / "primary_schools.yaml"
    mapping.write_text(
        yaml.safe_dump(
            {
                "theme": "public_services",
                "id": "ref:rspo",
                "fields": {"name": "name", "service_type": {"value": "primary_school"}, "rspo_id": "ref:rspo"},
            }
        )
    )
    return path, mapping


def _load(shared: Path, folder: Path, settings: Settings) -> int:
    """Load streets, buildings, schools and stand-in parcels; returns the number of stand-in parcels."""
    folder.mkdir(parents=True, exist_ok=True)
    run_load(
        shared / BDOT.format("SKDR_L"),
        city=CITY,
        theme="roads",
        mapping_path=MAPPINGS / "bdot10k/roads.yaml",
        settings=settings,
    )
    run_load(
        shared / BDOT.format("BUBD_A"),
        city=CITY,
        theme="buildings",
        mapping_path=MAPPINGS / "bdot10k/buildings.yaml",
        settings=settings,
    )
    schools, mapping = _primary_schools(shared, folder)
    run_load(schools, city=CITY, theme="public_services", mapping_path=mapping, settings=settings)
    houses = gpd.read_file(
        shared / BDOT.format("BUBD_A"), columns=["lokalnyId", "funOgolnaBudynku"], WRITE_GFS="NO"
    )  # GDAL would write a .gfs beside the shared file
    houses = houses[houses["funOgolnaBudynku"].astype(str).isin(RESIDENTIAL)]
    parcels = gpd.GeoDataFrame(
        {"parcel_id": houses["lokalnyId"], "precinct": "0001"}, geometry=houses.geometry.values, crs="EPSG:2180"
    )
    parcels.to_file(folder / "parcels.gpkg")
    run_load(folder / "parcels.gpkg", city=CITY, theme="parcels", settings=settings)
    return len(parcels)


def _measure(settings: Settings) -> dict:
    """One run's network, projections and results, read inside its transaction (the projections are
    temporary tables that go at commit), then rolled back."""
    std = parse({"city": CITY, "town": "town"})
    with open_catalogue(settings) as conn:
        run_id = runs.submit(conn, std)
        runs.claim_next_id(conn, run_id)
        net = network.build(conn, run_id, CITY, snap_m=std.snap_m, margin_m=std.margin_m)
        access.compute(conn, run_id, std)
        snap = snapshot(conn, run_id)
        got = {
            "net": net,
            "snap": snap,
            "geoms": conn.execute(
                "SELECT e.id, ST_AsBinary(e.geom) FROM analysis.edges e WHERE run_id = %s", [run_id]
            ).fetchall(),
            "parcels": dict(conn.execute("SELECT fid, ST_AsBinary(geom) FROM _pp").fetchall()),
            "by_point": conn.execute("SELECT by_point FROM _fac WHERE kind = 'primary_school'").fetchall(),
            "result": dict(
                conn.execute(
                    "SELECT parcel_fid, school_m FROM analysis.parcel_access WHERE run_id = %s", [run_id]
                ).fetchall()
            ),
        }
        got["pgr"] = _pgr_from(conn, run_id, snap.edges)
        conn.rollback()
    return got


def _pgr_from(conn, run_id: int, edges: list) -> dict[int, dict[int, float]]:
    """pgRouting's distances from 20 sample vertices to every vertex it reaches (one search each)."""
    vertices = sorted({e[1] for e in edges} | {e[2] for e in edges})
    found: dict[int, dict[int, float]] = {}
    for origin in random.Random(13).sample(vertices, 20):
        rows = conn.execute(
            "SELECT node, agg_cost FROM pgr_drivingDistance('SELECT id, source, target, cost, cost AS reverse_cost"
            " FROM analysis.edges WHERE run_id = ' || %s::bigint, %s::bigint, 1e9, directed => false)",
            [run_id, origin],
        ).fetchall()
        found[origin] = dict(rows)
    return found


@pytest.fixture(scope="module")
def measured(server_url, admin_url, tmp_path_factory) -> dict:
    """Loaded and measured once for the module's tests, in a database of its own with pgRouting."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is absent (it is present in CI)")
    with fresh_database(server_url) as url:
        dbname = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
        with psycopg.connect(psycopg.conninfo.make_conninfo(admin_url, dbname=dbname), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pgrouting SCHEMA public")
        tmp = tmp_path_factory.mktemp("real")
        settings = Settings(home=tmp / "home", database_url=url)
        units = _load(SHARED_DATA, tmp / "data", settings)
        return {**_measure(settings), "units": units}


def test_pgrouting_and_networkx_agree_between_network_vertices(measured):
    g = graph(measured["snap"])
    assert measured["net"]["edges"] > 2000 and measured["net"]["components"] >= 1
    compared = 0
    for origin, pgr in measured["pgr"].items():
        baseline = nx.single_source_dijkstra_path_length(g, origin, weight="weight")
        assert set(pgr) == set(baseline), f"vertices reached from {origin} differ"
        worst = max(abs(pgr[n] - baseline[n]) for n in baseline)
        assert worst < CM, f"from vertex {origin}: {worst:.4f} m apart"
        compared += len(baseline)
    assert compared > 20 * 100  # the sample reaches most of the network, not a stub


def test_projections_are_the_nearest_edge(measured):
    ids = [e[0] for e in measured["geoms"]]
    lines = [wkb.loads(e[1]) for e in measured["geoms"]]
    by_id = dict(zip(ids, lines, strict=True))
    tree = shapely.STRtree(lines)
    checked = 0
    for fid, edge, _u, _v, _len, f, access_m in measured["snap"].units:
        if edge is None:
            continue
        parcel = wkb.loads(measured["parcels"][fid])
        nearest_line = lines[tree.query_nearest(parcel, return_distance=False)[0]]
        assert access_m == pytest.approx(nearest_line.distance(parcel), abs=CM)
        point = by_id[edge].interpolate(f, normalized=True)
        assert point.distance(parcel) == pytest.approx(access_m, abs=CM)
        checked += 1
    assert checked > 0.9 * measured["units"]


def test_school_distances_match_a_networkx_dijkstra_to_the_centimetre(measured):
    """Multi-source Dijkstra from every school's own vertex, on the edges and projections sdi built."""
    snap = measured["snap"]
    schools = {r[2] for r in snap.facilities if r[0] == "primary_school"}
    assert len(schools) >= 10  # Śródmieście's primary schools
    assert sum(1 for (p,) in measured["by_point"] if not p) > len(schools) / 2  # most found their building
    # the search's reach, as access.compute searches: twice the longer school distance
    expected = nearest(snap, graph(snap), "primary_school", 2 * 3000.0)
    compared = 0
    for fid, got in measured["result"].items():
        if fid not in expected:
            assert got is None, f"unit {fid}: sdi says {got}, networkx finds no school"
            continue
        assert got == pytest.approx(expected[fid], abs=CM), f"unit {fid}"
        compared += 1
    assert compared > 0.5 * measured["units"]
