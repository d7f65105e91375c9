"""The art. 13f analysis (sdi.analysis) on a generated town: a grid of N x N blocks of 100 m, four parcels a
block, schools with their buildings, parks (some of 20+ ha) and kindergartens, loaded through `sdi load`'s own
path into a throw-away embedded PostGIS; then one run, its stage timings printed as JSON.

    .venv/bin/python benchmarks/analysis_bench.py               # 12 x 12 blocks: seconds, for CI
    .venv/bin/python benchmarks/analysis_bench.py --blocks 70   # 9,940 edges, 19,600 parcels (the README's)
    .venv/bin/python benchmarks/analysis_bench.py --goal        # the issue's goal size (below)

--goal is the issue's gmina: 100 x 100 blocks = 20,200 street segments, 50,000 address points (five a block)
and 40,000 parcels; the 50,000 address points are the units (--units parcels for the 40,000 parcels), analysed
for three facility kinds (primary schools, public green for both green standards, kindergartens).

The run is timed twice: `run_s` builds the walking network, `rerun_s` is the same analysis again on the same loads,
which copies that network version (sdi.analysis.network.version: rebuilt only after a load of a theme it is built
from). Beside sdi's own timings it reports a networkx baseline on the same graph (tests/test_analysis_baseline.py):
the run's stages are repeated in a rolled-back transaction, its edges and projections read back, and the
same distances computed by networkx Dijkstra; the answers are compared (max_diff_m) and both timed.
With --explain the statements of facilities.sql and parcels.sql (sdi/sql/analysis/) are also run one by one under
EXPLAIN (ANALYZE, BUFFERS) after the run, and each plan's time is printed (the plans go to --plans FILE).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
from shapely.geometry import LineString, Point, box

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from scratch import scratch_postgis
from test_analysis_baseline import graph, green_sum, nearest, snapshot

from sdi.analysis import access, network, runs
from sdi.analysis.standards import UNITS, parse
from sdi.core.catalogue import open_catalogue
from sdi.core.settings import Settings
from sdi.pipeline import run_load

CITY = "2699011"
X0, Y0, BLOCK = 500_000.0, 500_000.0, 100.0
GOAL_BLOCKS, GOAL_ADDRESSES = 100, 5  # 2 * 100 * 101 = 20,200 street segments; 5 * 100 * 100 = 50,000 addresses


def town(blocks: int, per_block: int = 1, seed: int = 21) -> dict[str, list[dict]]:
    """The generated town's features per theme (EPSG:2180); the same seed gives the same town."""
    rnd = random.Random(seed)
    roads = []
    for i in range(blocks + 1):
        for j in range(blocks):  # one feature per block side, as BDOT10k cuts streets at crossings
            a, b = (X0 + j * BLOCK, Y0 + i * BLOCK), (X0 + (j + 1) * BLOCK, Y0 + i * BLOCK)
            roads.append({"road_class": "municipal", "geometry": LineString([a, b])})
            a, b = (X0 + i * BLOCK, Y0 + j * BLOCK), (X0 + i * BLOCK, Y0 + (j + 1) * BLOCK)
            roads.append({"road_class": "municipal", "geometry": LineString([a, b])})
    parcels = []
    half = BLOCK / 2
    for i in range(blocks):
        for j in range(blocks):
            for qx in (0, 1):
                for qy in (0, 1):
                    x, y = X0 + i * BLOCK + qx * half, Y0 + j * BLOCK + qy * half
                    parcels.append(
                        {
                            "parcel_id": f"{i}.{j}.{qx}{qy}",
                            "precinct": f"{i // 10:02d}{j // 10:02d}",
                            "geometry": box(x + 5, y + 5, x + half - 5, y + half - 5),
                        }
                    )
    # Address points inside the block's parcels, a few metres in from the street, as houses stand.
    addresses = [
        {
            "house_number": f"{i}.{j}.{k}",
            "street": f"ulica {j}",
            "geometry": Point(X0 + i * BLOCK + 10 + 16 * k, Y0 + j * BLOCK + 12),
        }
        for i in range(blocks)
        for j in range(blocks)
        for k in range(per_block)
    ]
    extent = blocks * BLOCK

    def spot() -> tuple[float, float]:
        return X0 + rnd.uniform(0.05, 0.95) * extent, Y0 + rnd.uniform(0.05, 0.95) * extent

    n_schools, n_parks = max(2, round(30 * blocks**2 / 4900)), max(4, round(60 * blocks**2 / 4900))
    schools, buildings = [], []
    for k in range(n_schools):
        x, y = spot()
        schools.append({"name": f"SP {k}", "service_type": "primary_school", "geometry": Point(x, y)})
        buildings.append({"function": "education", "geometry": box(x - 15, y - 10, x + 15, y + 10)})
    kindergartens = [
        {"name": f"P {k}", "service_type": "kindergarten", "geometry": Point(*spot())} for k in range(n_schools)
    ]
    parks = []
    for k in range(n_parks):
        x, y = spot()
        side = rnd.uniform(480, 560) if k % 6 == 0 else rnd.uniform(60, 150)  # every 6th: over 20 ha
        parks.append(
            {
                "name": f"park {k}",
                "publicly_accessible": True,
                "geometry": box(x - side / 2, y - side / 2, x + side / 2, y + side / 2),
            }
        )
    return {
        "roads": roads,
        "parcels": parcels,
        "public_services": schools + kindergartens,
        "buildings": buildings,
        "green_areas": parks,
        "address_points": addresses,
    }


def load(folder: Path, settings: Settings, themes: dict[str, list[dict]]) -> None:
    for theme, rows in themes.items():
        path = folder / f"{theme}.gpkg"
        gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:2180").to_file(path)
        run_load(path, city=CITY, theme=theme, settings=settings)


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of a local process: the run's PostgreSQL backend, steadier than wall time on
    a shared machine (0 where /proc cannot tell)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _timed_run(conn, std, backend: int) -> tuple[int, dict, float, float]:
    """Queue, claim and run one analysis: its run_id, result, wall seconds and the backend's CPU seconds."""
    run_id = runs.submit(conn, std)
    runs.claim_next_id(conn, run_id)
    cpu, t = _cpu_s(backend), time.perf_counter()
    result = runs.execute(conn, run_id)
    seconds, cpu = time.perf_counter() - t, _cpu_s(backend) - cpu
    conn.commit()
    return run_id, result, seconds, cpu


def baseline(settings: Settings, run_id: int) -> dict:
    """networkx on the run's own graph: its timings, and how far its answers are from sdi's (m, ha)."""
    with open_catalogue(settings) as conn:
        std = runs.Standards(**runs.status(conn, run_id)["params"])
        conn.execute("DELETE FROM analysis.parcel_access WHERE run_id = %s", [run_id])
        conn.execute("DELETE FROM analysis.edges WHERE run_id = %s", [run_id])
        network.build(conn, run_id, std.city, snap_m=std.snap_m, margin_m=std.margin_m, units=std.units)
        access.compute(conn, run_id, std)
        t = time.perf_counter()
        snap = snapshot(conn, run_id)
        read = time.perf_counter() - t
        sdi = {
            r[0]: r[1:]
            for r in conn.execute(
                "SELECT parcel_fid, school_m, green_sum_ha, green20_m, (optional->'kindergarten'->>'m')::float"
                " FROM analysis.parcel_access WHERE run_id = %s",
                [run_id],
            )
        }
        conn.rollback()
    t, cpu = time.perf_counter(), time.process_time()
    g = graph(snap)
    reach = 2 * max(std.school_town_m, std.school_rural_m)
    answers = [
        nearest(snap, g, "primary_school", reach),
        green_sum(snap, g, std.green_sum_m),
        nearest(snap, g, "green20", 2 * std.green_big_m),
    ]
    if "kindergarten" in std.optional:
        answers.append(nearest(snap, g, "kindergarten", 2 * std.optional["kindergarten"]))
    seconds, cpu = time.perf_counter() - t, time.process_time() - cpu
    worst, differ = 0.0, 0
    for fid, row in sdi.items():
        for k, answer in enumerate(answers):
            mine, theirs = answer.get(fid), row[k]
            if k == 1:
                mine, theirs = mine or 0.0, theirs or 0.0  # no green within reach is 0 ha on both sides
            if (mine is None) != (theirs is None):
                differ += 1
            elif mine is not None:
                worst = max(worst, abs(mine - theirs))
    return {
        "read_back_s": round(read, 3),
        "networkx_s": round(seconds, 3),
        "networkx_cpu_s": round(cpu, 2),
        **{f"networkx_{k}": round(v, 3) for k, v in snap.seconds.items()},
        "max_diff": round(worst, 4),
        "units_differing": differ,
    }


def explain(settings: Settings, run_id: int, plans: Path | None) -> list[dict]:
    """Repeat the run's stages in a rolled-back transaction, then time each statement of the projections and the
    per-unit results."""
    found: list[dict] = []
    with open_catalogue(settings) as conn:
        std = runs.Standards(**runs.status(conn, run_id)["params"])
        conn.execute("DELETE FROM analysis.parcel_access WHERE run_id = %s", [run_id])
        conn.execute("DELETE FROM analysis.edges WHERE run_id = %s", [run_id])
        network.build(conn, run_id, std.city, snap_m=std.snap_m, margin_m=std.margin_m, units=std.units)
        access.compute(conn, run_id, std, explain=found)
        conn.rollback()
    if plans:
        plans.write_text("\n\n".join(f"-- {p['statement']}\n{p['plan']}" for p in found))
    return [{"statement": p["statement"][:90], "ms": p["ms"]} for p in found]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, default=12, help="blocks per side of the grid [12]")
    parser.add_argument("--goal", action="store_true", help="the issue's goal size: 100 blocks, 50,000 addresses")
    parser.add_argument("--no-baseline", action="store_true", help="skip the networkx baseline")
    parser.add_argument("--units", choices=UNITS, help="the unit of analysis [parcels; addresses with --goal]")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN (ANALYZE, BUFFERS) the per-parcel SQL")
    parser.add_argument("--plans", type=Path, help="write the plans of --explain here")
    parser.add_argument("--out", type=Path, help="write the figures as JSON here too")
    args = parser.parse_args()
    if args.goal:
        args.blocks = GOAL_BLOCKS
    themes = town(args.blocks, GOAL_ADDRESSES if args.goal else 1)
    with scratch_postgis("sdi-analysis-bench-") as (tmp, home, _url):
        settings = Settings(home=home)
        t = time.perf_counter()
        load(Path(tempfile.mkdtemp(dir=tmp)), settings, themes)
        loaded = time.perf_counter() - t
        with open_catalogue(settings) as conn:
            units = args.units or ("addresses" if args.goal else "parcels")
            std = parse({"city": CITY, "optional": {"kindergarten": 800}, "units": units})
            backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
            conn.commit()  # each run then commits on its own (its temporary tables go with it)
            run_id, result, seconds, cpu = _timed_run(conn, std, backend)
            # The same analysis again on the same loads: the network is that version's, copied, not built again.
            _, again, again_s, again_cpu = _timed_run(conn, std, backend)
        figures = {
            "units": units,
            "unit_count": result["network"]["unit_count"],
            "blocks": args.blocks,
            "parcels": len(themes["parcels"]),
            "roads": len(themes["roads"]),
            "address_points": len(themes["address_points"]),
            "facilities": result["summary"]["facilities"],
            "edges": result["network"]["edges"],
            "vertices": result["network"]["vertices"],
            "load_s": round(loaded, 2),
            "network_s": result["network"]["build_s"],
            **result["summary"]["timings"],
            "run_s": round(seconds, 3),
            "run_cpu_s": round(cpu, 2),
            "rerun_network_s": again["network"]["build_s"],
            "rerun_network_reused_from": again["network"]["reused_from"],
            "rerun_s": round(again_s, 3),
            "rerun_cpu_s": round(again_cpu, 2),
            "all_standards": result["summary"]["gmina"][0]["all_standards"],
        }
        figures["sdi_distances_s"] = round(figures["search_s"] + figures["parcels_s"], 3)
        if not args.no_baseline:
            figures["baseline"] = baseline(settings, run_id)
        if args.explain:
            figures["explain"] = explain(settings, run_id, args.plans)
    text = json.dumps(figures, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
