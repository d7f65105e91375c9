"""A pure-Python baseline of the art. 13f distances (networkx Dijkstra), on the graph sdi built for a run.

`snapshot` reads a run's network back from the database (its edges, and the projections of units and
facilities onto them, which are temporary tables: call it inside the run's transaction, before commit);
`nearest` and `green_sum` then answer what sdi/sql/analysis/parcels.sql answers, without PostgreSQL.
tests/test_analysis_real.py and benchmarks/analysis_bench.py compare sdi with it; the test below checks the
baseline itself against the distances computed by hand for the town of tests/test_analysis.py.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pytest
import test_analysis

nx = pytest.importorskip("networkx")
pgr_settings = test_analysis.pgr_settings  # the fixture: the test database with pgRouting


@dataclass
class Snapshot:
    """A run's graph as read back: edges (id, u, v, cost), units, facilities and their attachments."""

    edges: list[tuple[int, int, int, float]]
    units: list[tuple[int, int | None, int, int, float, float, float]]  # fid, edge, u, v, len, f, access_m
    facilities: list[tuple[str, int, int, int, float, float]]  # kind, vid, fid, edge, f, access_m
    attachments: list[tuple[str, int, int, float]]  # kind, vid, node, cost
    areas: dict[int, float] = field(default_factory=dict)  # green fid -> ha
    seconds: dict[str, float] = field(default_factory=dict)


def snapshot(conn: Any, run_id: int) -> Snapshot:
    """Read run_id's graph; inside the run's transaction (the projections go at commit)."""
    return Snapshot(
        edges=conn.execute(
            "SELECT id, source, target, cost FROM analysis.edges WHERE run_id = %s", [run_id]
        ).fetchall(),
        units=conn.execute("SELECT fid, edge, u, v, len, f, access_m FROM _pp").fetchall(),
        facilities=conn.execute("SELECT kind, vid, fid, edge, f, access_m FROM _fac").fetchall(),
        attachments=conn.execute("SELECT kind, vid, node, cost FROM _att").fetchall(),
        areas=dict(conn.execute("SELECT fid, area_ha FROM _fac WHERE kind = 'green'").fetchall()),
    )


def graph(snap: Snapshot) -> nx.Graph:
    """The network; of parallel edges between two vertices the shorter counts (as Dijkstra would take it)."""
    t = time.perf_counter()
    g = nx.Graph()
    for _id, u, v, cost in snap.edges:
        if not g.has_edge(u, v) or g[u][v]["weight"] > cost:
            g.add_edge(u, v, weight=cost)
    snap.seconds["graph_s"] = snap.seconds.get("graph_s", 0) + time.perf_counter() - t
    return g


def _with_kind(g: nx.Graph, snap: Snapshot, kind: str) -> nx.Graph:
    """The network plus the facilities of one kind, each a vertex of its own joined as sdi joins it."""
    h = g.copy()
    for k, vid, node, cost in snap.attachments:
        if k == kind and (not h.has_edge(vid, node) or h[vid][node]["weight"] > cost):
            h.add_edge(vid, node, weight=cost)
    return h


def _unit_costs(snap: Snapshot, kind: str, dist: dict[int, float]) -> dict[int, list[float]]:
    """Each unit's candidate costs from a search's vertex distances: through u, through v, along its edge."""
    same: dict[int, list[tuple[float, float]]] = {}
    for k, _vid, _fid, edge, f, access_m in snap.facilities:
        if k == kind:
            same.setdefault(edge, []).append((f, access_m))
    found: dict[int, list[float]] = {}
    for fid, edge, u, v, length, f, access_m in snap.units:
        if edge is None:
            continue
        options = [dist[u] + f * length + access_m] if u in dist else []
        options += [dist[v] + (1 - f) * length + access_m] if v in dist else []
        options += [fa + access_m + abs(ff - f) * length for ff, fa in same.get(edge, [])]
        found[fid] = options
    return found


def nearest(snap: Snapshot, g: nx.Graph, kind: str, limit: float) -> dict[int, float]:
    """unit fid -> network distance to the nearest facility of kind (vertices searched up to limit)."""
    t = time.perf_counter()
    h = _with_kind(g, snap, kind)
    sources = {vid for k, vid, *_ in snap.facilities if k == kind}
    dist = nx.multi_source_dijkstra_path_length(h, sources, cutoff=limit, weight="weight") if sources else {}
    found = {fid: min(options) for fid, options in _unit_costs(snap, kind, dist).items() if options}
    snap.seconds[f"{kind}_s"] = time.perf_counter() - t
    return found


def green_sum(snap: Snapshot, g: nx.Graph, limit: float) -> dict[int, float]:
    """unit fid -> the summed area (ha) of the public green reachable within limit (one search per area)."""
    t = time.perf_counter()
    h = _with_kind(g, snap, "green")
    at: dict[int, list[tuple]] = {}  # vertex or edge -> the units that touch it, so each search looks at few
    for unit in snap.units:
        if unit[1] is not None:
            for key in {unit[2], unit[3]}:
                at.setdefault(key, []).append(unit)
            at.setdefault(-1 - unit[1], []).append(unit)
    total: dict[int, float] = {}
    for k, vid, fid, edge, ff, fa in snap.facilities:
        if k != "green":
            continue
        dist = nx.single_source_dijkstra_path_length(h, vid, cutoff=limit, weight="weight")
        best: dict[int, float] = {}
        for node, d in dist.items():
            for ufid, _e, u, _v, length, f, access_m in at.get(node, ()):
                cost = d + (f * length if node == u else (1 - f) * length) + access_m
                best[ufid] = min(best.get(ufid, cost), cost)
        for ufid, _e, _u, _v, length, f, access_m in at.get(-1 - edge, ()):
            cost = fa + access_m + abs(ff - f) * length  # the same edge: straight along it
            best[ufid] = min(best.get(ufid, cost), cost)
        for ufid, cost in best.items():
            if cost <= limit:
                total[ufid] = total.get(ufid, 0.0) + snap.areas[fid]
    snap.seconds["green_s"] = time.perf_counter() - t
    return total


def test_the_baseline_finds_the_hand_computed_distances(pgr_settings, tmp_path):
    from test_analysis import CITY, load_town

    from sdi.analysis import access, network, runs
    from sdi.analysis.standards import parse
    from sdi.core.catalogue import open_catalogue

    load_town(tmp_path / "town", pgr_settings)
    std = parse({"city": CITY, "optional": {"kindergarten": 800}})
    with open_catalogue(pgr_settings) as conn:
        run_id = runs.submit(conn, std)
        network.build(conn, run_id, CITY, snap_m=std.snap_m, margin_m=std.margin_m)
        access.compute(conn, run_id, std)
        snap = snapshot(conn, run_id)
        names = dict(conn.execute("SELECT fid, parcel_id FROM _pp").fetchall())
        conn.rollback()
    g = graph(snap)
    school = {names[k]: v for k, v in nearest(snap, g, "primary_school", 6000).items()}
    assert school["P1"] == pytest.approx(4220, abs=0.01) and school["P3"] == pytest.approx(420, abs=0.01)
    assert school["P2"] == pytest.approx(2420, abs=0.01) and "P4" not in school  # P4: no street within 500 m
    green = {names[k]: v for k, v in green_sum(snap, g, 1500).items()}
    assert green["P2"] == pytest.approx(29.75) and green["P3"] == pytest.approx(3.5) and "P1" not in green
    big = {names[k]: v for k, v in nearest(snap, g, "green20", 6000).items()}
    assert big["P2"] == pytest.approx(820, abs=0.01)
    kg = {names[k]: v for k, v in nearest(snap, g, "kindergarten", 1600).items()}
    assert kg["P2"] == pytest.approx(70, abs=0.01)  # along the same edge
