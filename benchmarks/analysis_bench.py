"""The art. 13f analysis (sdi.analysis) on a generated town: a grid of N x N blocks of 100 m, four parcels a
block, schools with their buildings, parks (some of 20+ ha) and kindergartens, loaded through `sdi load`'s own
path into a throw-away embedded PostGIS; then one run, its stage timings printed as JSON.

    .venv/bin/python benchmarks/analysis_bench.py               # 12 x 12 blocks: seconds, for CI
    .venv/bin/python benchmarks/analysis_bench.py --blocks 70   # 9,940 edges, 19,600 parcels (the README's)

With --explain the per-parcel statements (sdi/sql/analysis/parcels.sql) are also run one by one under
EXPLAIN (ANALYZE, BUFFERS) after the run, and each plan's time is printed (the plans go to --plans FILE).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
from shapely.geometry import LineString, Point, box

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scratch import scratch_postgis

from sdi.analysis import access, network, runs
from sdi.analysis.standards import parse
from sdi.core.catalogue import open_catalogue
from sdi.core.settings import Settings
from sdi.pipeline import run_load

CITY = "2699011"
X0, Y0, BLOCK = 500_000.0, 500_000.0, 100.0


def town(blocks: int, seed: int = 21) -> dict[str, list[dict]]:
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
                    parcels.append({"parcel_id": f"{i}.{j}.{qx}{qy}", "precinct": f"{i // 10:02d}{j // 10:02d}",
                                    "geometry": box(x + 5, y + 5, x + half - 5, y + half - 5)})
    extent = blocks * BLOCK

    def spot() -> tuple[float, float]:
        return X0 + rnd.uniform(0.05, 0.95) * extent, Y0 + rnd.uniform(0.05, 0.95) * extent

    n_schools, n_parks = max(2, round(30 * blocks**2 / 4900)), max(4, round(60 * blocks**2 / 4900))
    schools, buildings = [], []
    for k in range(n_schools):
        x, y = spot()
        schools.append({"name": f"SP {k}", "service_type": "primary_school", "geometry": Point(x, y)})
        buildings.append({"function": "education", "geometry": box(x - 15, y - 10, x + 15, y + 10)})
    kindergartens = [{"name": f"P {k}", "service_type": "kindergarten", "geometry": Point(*spot())}
                     for k in range(n_schools)]
    parks = []
    for k in range(n_parks):
        x, y = spot()
        side = rnd.uniform(480, 560) if k % 6 == 0 else rnd.uniform(60, 150)  # every 6th: over 20 ha
        parks.append({"name": f"park {k}", "publicly_accessible": True,
                      "geometry": box(x - side / 2, y - side / 2, x + side / 2, y + side / 2)})
    return {"roads": roads, "parcels": parcels, "public_services": schools + kindergartens,
            "buildings": buildings, "green_areas": parks}


def load(folder: Path, settings: Settings, themes: dict[str, list[dict]]) -> None:
    for theme, rows in themes.items():
        path = folder / f"{theme}.gpkg"
        gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:2180").to_file(path)
        run_load(path, city=CITY, theme=theme, settings=settings)


def explain(settings: Settings, run_id: int, plans: Path | None) -> list[dict]:
    """Repeat the run's stages in a rolled-back transaction, then time each per-parcel statement's plan."""
    found: list[dict] = []
    with open_catalogue(settings) as conn:
        std = runs.Standards(**runs.status(conn, run_id)["params"])
        conn.execute("DELETE FROM analysis.parcel_access WHERE run_id = %s", [run_id])
        conn.execute("DELETE FROM analysis.edges WHERE run_id = %s", [run_id])
        network.build(conn, run_id, std.city, snap_m=std.snap_m, margin_m=std.margin_m)
        access.compute(conn, run_id, std, explain=found)
        conn.rollback()
    if plans:
        plans.write_text("\n\n".join(f"-- {p['statement']}\n{p['plan']}" for p in found))
    return [{"statement": p["statement"][:90], "ms": p["ms"]} for p in found]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, default=12, help="blocks per side of the grid [12]")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN (ANALYZE, BUFFERS) the per-parcel SQL")
    parser.add_argument("--plans", type=Path, help="write the plans of --explain here")
    parser.add_argument("--out", type=Path, help="write the figures as JSON here too")
    args = parser.parse_args()
    themes = town(args.blocks)
    with scratch_postgis("sdi-analysis-bench-") as (tmp, home, _url):
        settings = Settings(home=home)
        t = time.perf_counter()
        load(Path(tempfile.mkdtemp(dir=tmp)), settings, themes)
        loaded = time.perf_counter() - t
        with open_catalogue(settings) as conn:
            run_id = runs.submit(conn, parse({"city": CITY, "optional": {"kindergarten": 800}}))
            runs.claim_next_id(conn, run_id)
            t = time.perf_counter()
            result = runs.execute(conn, run_id)
            seconds = time.perf_counter() - t
        figures = {"blocks": args.blocks, "parcels": len(themes["parcels"]), "roads": len(themes["roads"]),
                   "facilities": result["summary"]["facilities"], "edges": result["network"]["edges"],
                   "vertices": result["network"]["vertices"], "load_s": round(loaded, 2),
                   "network_s": result["network"]["build_s"], **result["summary"]["timings"],
                   "run_s": round(seconds, 3), "all_standards": result["summary"]["gmina"][0]["all_standards"]}
        if args.explain:
            figures["explain"] = explain(settings, run_id, args.plans)
    text = json.dumps(figures, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
