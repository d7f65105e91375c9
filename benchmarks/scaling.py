"""Scaling: load time and request latency as a theme grows, e.g. from 10,000 to 10,000,000 features.

For each size, on a fresh embedded PostGIS: generate the points (in a GeoPackage at every size, so that the
sizes compare: a shapefile's DBF cannot hold 10M of them), `sdi load` them (timed), serve them, and
measure a ~1 km² bbox request and a single-item request with wrk at 8 connections. Latency should stay
flat (the requests are index-bound and never count the whole table) and load time grow linearly.
Prints a table and saves it as JSON and as a PNG plot beside it.

With --cities N (issue 17: 2,477, every gmina), N - 1 other cities each load a small version of their own
(CITY_POINTS points in their own cell of a grid over Poland, in-process through sdi.pipeline.run_load, so that
Python's start-up is paid once) before the requests: every current load is its own partition, so the API's
queries then run over N partitions, as they would with every gmina loaded. The bbox and the item asked for
are the big city's, as before, so the figures compare with the one-city run.

`sdi serve` answers before it has written its download files (a thread of its own, minutes at millions of rows),
so each measurement waits for the machine to be quiet first (cpu_groups.settle; `settle_s` says how long).

    .venv/bin/python benchmarks/scaling.py 10000 100000 1000000 10000000 [--seconds 5] [--cities 2477]
        [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cpu_groups  # noqa: E402
from generate import points  # noqa: E402
from scratch import scratch_postgis  # noqa: E402
from serve_bench import BIN, HERE, WORKERS, _requests, _server, _wrk  # noqa: E402

CITY_POINTS = 50


def measure(n: int, seconds: float, cities: int = 1) -> dict:
    with scratch_postgis("sdi-scaling-") as (tmp, home, url):
        path = points(n, tmp / "data", "gpkg")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SDI_")}
        env.update(SDI_HOME=str(home), SDI_DATABASE_URL=url)
        started = time.perf_counter()
        mapping = HERE / "mappings" / "points_gpkg.yaml"
        subprocess.run(
            [
                str(BIN / "sdi"),
                "load",
                str(path),
                "--city",
                "1465011",
                "--theme",
                "public_services",
                "--mapping",
                str(mapping),
            ],
            env=env,
            check=True,
            capture_output=True,
        )
        load_s = time.perf_counter() - started
        baseline = {}
        if cities > 1:
            # The same requests on the same machine in the same minutes, before the other cities exist: the
            # national goal is "no slower than with one city", and a shared machine's absolute figures move.
            # start-up writes the theme's download files first: minutes for millions of rows
            start = [str(BIN / "sdi"), "serve", "--workers", str(WORKERS), "--port"]
            with _server(start, env, start_timeout=1800) as base:
                baseline_settle = cpu_groups.settle()  # the download files written first: not measured with them
                urls = _requests(base, ecql=False)
                item = urls["one item"].replace("/1234?", f"/{max(1, n // 2)}?")
                b, o = _wrk(urls["bbox ~1 km²"], 8, seconds), _wrk(item, 8, seconds)
                first = _wrk(_first_page(urls), 8, seconds)
                baseline = {
                    "one_city_bbox_p50_ms": b["p50_ms"],
                    "one_city_item_p50_ms": o["p50_ms"],
                    "one_city_page_p50_ms": first["p50_ms"],
                    "one_city_settle_s": round(baseline_settle, 1),
                }
        others_s = _other_cities(path, tmp, home, url, cities - 1) if cities > 1 else 0.0
        # with every gmina loaded, sdi serve takes longer before its first answer: allowed, and reported
        server = _server(
            [str(BIN / "sdi"), "serve", "--workers", str(WORKERS), "--port"],
            env,
            start_timeout=60 if cities == 1 else 1800,
        )
        with server as base:
            settled = cpu_groups.settle()  # its download files first (2,477 cities': minutes)
            urls = _requests(base, ecql=False)
            item = urls["one item"].replace("/1234?", f"/{max(1, n // 2)}?")
            bbox, one = _wrk(urls["bbox ~1 km²"], 8, seconds), _wrk(item, 8, seconds)
            page = _wrk(_first_page(urls), 8, seconds)
    return {
        "features": n,
        "cities": cities,
        "other_cities_load_s": round(others_s, 1),
        "serve_start_s": round(server.started_s, 1),
        "settle_s": round(settled, 1),
        "load_s": round(load_s, 2),
        "load_features_per_s": round(n / load_s),
        "bbox_p50_ms": bbox["p50_ms"],
        "bbox_rps": bbox["requests_per_s"],
        "item_p50_ms": one["p50_ms"],
        "item_rps": one["requests_per_s"],
        # reported, not judged (benchmarks/goals.py judges bbox and item): the request that a join's misestimate
        # once made sort the whole theme at 2,477 cities (README, "The national latency goal")
        "page_p50_ms": page["p50_ms"],
        **baseline,
    }


def _first_page(urls: dict[str, str]) -> str:
    """items?limit=100 with nothing else: the first page of the theme, in fid order."""
    return urls["bbox ~1 km²"].split("&bbox=")[0]


def _other_cities(source: Path, tmp: Path, home: Path, url: str, count: int) -> float:
    """Load `count` other cities, each CITY_POINTS points in its own cell over Poland; returns the seconds taken."""
    import geopandas as gpd

    from sdi.core.settings import Settings
    from sdi.pipeline import run_load

    small = gpd.read_file(source, rows=CITY_POINTS).to_crs(2180)
    x0, y0 = small.total_bounds[:2]
    side = int(np.ceil(np.sqrt(count)))
    # cells over the inner part of Poland (EPSG:2180 easting 300-780 km, northing 250-700 km), so that no point
    # falls outside the country and is rejected
    step_x, step_y = 480_000 / side, 450_000 / side
    settings, folder = Settings(home=home, database_url=url), tmp / "cities"
    folder.mkdir()
    mapping = HERE / "mappings" / "points_gpkg.yaml"
    started = time.perf_counter()
    for i in range(count):
        # made-up but well-formed gmina codes: voivodeships 02..32 (even), counties 01..99, gminas 01..99
        city = f"{2 + 2 * (i // 9801 % 16):02d}{i // 99 % 99 + 1:02d}{i % 99 + 1:02d}2"
        dx, dy = 300_000 + (i % side) * step_x - x0, 250_000 + (i // side) * step_y - y0
        path = folder / f"{city}.gpkg"
        small.set_geometry(small.geometry.translate(dx, dy)).to_file(path)
        run_load(path, city=city, theme="public_services", mapping_path=mapping, settings=settings)
        path.unlink()
        if (i + 1) % 250 == 0:
            print(f"  {i + 1} other cities loaded in {time.perf_counter() - started:.0f} s", flush=True)
    return time.perf_counter() - started


def plot(rows: list[dict], png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = [r["features"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.plot(n, [r["load_s"] for r in rows], "o-")
    left.set(xscale="log", yscale="log", xlabel="features", ylabel="sdi load, s", title="Load time")
    right.plot(n, [r["bbox_p50_ms"] for r in rows], "o-", label="bbox ~1 km², p50")
    right.plot(n, [r["item_p50_ms"] for r in rows], "s-", label="one item, p50")
    right.set(xscale="log", xlabel="features", ylabel="ms at 8 connections", title="Latency", ylim=(0, None))
    right.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=100)


if __name__ == "__main__":
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("sizes", type=int, nargs="+")
    args.add_argument("--seconds", type=float, default=5)
    args.add_argument("--cities", type=int, default=1, help="cities loaded beside the big one's (2477: every gmina)")
    args.add_argument("--out", type=Path)
    opts = args.parse_args()
    rows = []
    for size in opts.sizes:
        rows.append(measure(size, opts.seconds, opts.cities))
        print(rows[-1], flush=True)
    print(
        "| features | cities | load | features/s | bbox p50 | bbox req/s | item p50 | item req/s |\n"
        "|---|---|---|---|---|---|---|---|"
    )
    for r in rows:
        print(
            f"| {r['features']:,} | {r['cities']:,} | {r['load_s']} s | {r['load_features_per_s']:,} |"
            f" {r['bbox_p50_ms']} ms | {r['bbox_rps']:.0f} | {r['item_p50_ms']} ms | {r['item_rps']:.0f} |"
        )
    if opts.out:
        opts.out.write_text(json.dumps(rows, indent=2) + "\n")
        if len(rows) > 1:  # a curve needs two sizes (the national run has one)
            plot(rows, opts.out.with_suffix(".png"))
