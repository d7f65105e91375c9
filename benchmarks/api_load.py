"""The API under load: concurrent requests for a while, mixing bbox, filter, item and tile requests.

It sets everything up itself on loopback: an embedded PostGIS in a temporary SDI_HOME, the sample gmina
plus generated points, and `sdi serve` with its default workers. It fails (exit 1) on any error or 5xx,
prints p50, p99 and requests/s per kind, and writes them to benchmarks/results/api_load.json.

    .venv/bin/python benchmarks/api_load.py [--seconds 60] [--connections 32]

`make test` runs it after the test suite, so CI does.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import geopandas as gpd
import numpy as np
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scratch import scratch_postgis  # noqa: E402

from sdi.core.sample import SAMPLE_CITY, write_sample  # noqa: E402
from sdi.core.settings import Settings  # noqa: E402
from sdi.pipeline import run_load  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "api_load.json"
POINTS = 100_000


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--seconds", type=float, default=60)
    args.add_argument("--connections", type=int, default=32)
    args.add_argument("--out", type=Path, default=RESULTS)
    opts = args.parse_args()
    with scratch_postgis("sdi-load-") as (tmp, home, url):
        _load(tmp, Settings(home=home, database_url=url))
        with _serving(home) as base:
            result = _hammer(base, opts.seconds, opts.connections)
    opts.out.parent.mkdir(exist_ok=True)
    opts.out.write_text(json.dumps(result, indent=2) + "\n")
    _print(result)
    return 0 if result["errors"] == 0 and result["server_errors"] == 0 else 1


def _load(tmp: Path, settings: Settings) -> None:
    for theme, path in write_sample(tmp / "sample").items():
        run_load(path, city=SAMPLE_CITY, theme=theme, settings=settings)
    rng = np.random.default_rng(7)
    frame = gpd.GeoDataFrame(
        {
            "name": [f"Punkt {i}" for i in range(POINTS)],
            "service_type": rng.choice(["library", "clinic", "kindergarten"], POINTS),
        },
        geometry=gpd.points_from_xy(rng.uniform(630_000, 645_000, POINTS), rng.uniform(480_000, 495_000, POINTS)),
        crs=2180,
    )
    frame.to_file(tmp / "punkty.gpkg")
    run_load(tmp / "punkty.gpkg", city="1465011", theme="public_services", settings=settings)


class _serving:
    def __init__(self, home: Path):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("SDI_")}
        self.proc = subprocess.Popen(
            [str(Path(sys.executable).with_name("sdi")), "serve", "--port", str(self.port)],
            env={**env, "SDI_HOME": str(home)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def __enter__(self) -> str:
        base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{base}/collections?f=json", timeout=15).status_code == 200:
                    return base
            except requests.RequestException:
                time.sleep(0.3)
        raise SystemExit("sdi serve did not start")

    def __exit__(self, *exc) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=30)


def _requests(base: str, i: int) -> tuple[str, str, dict]:
    """The i-th request of the mix: a ~1 km² bbox, a CQL2 filter, one item, a z14 tile."""
    kind = ("bbox", "filter", "item", "tile")[i % 4]
    rng = np.random.default_rng(i)
    lon, lat = rng.uniform(20.92, 21.10), rng.uniform(52.15, 52.28)
    if kind == "bbox":
        return (
            kind,
            f"{base}/collections/public_services/items",
            {"f": "json", "limit": 100, "bbox": f"{lon},{lat},{lon + 0.0147},{lat + 0.009}"},
        )
    if kind == "filter":
        return (
            kind,
            f"{base}/collections/public_services/items",
            {
                "f": "json",
                "limit": 100,
                "filter-lang": "cql2-text",
                "filter": "service_type = 'library' AND city = '1465011'",
            },
        )
    if kind == "item":
        return kind, f"{base}/collections/public_services/items/{int(rng.integers(1, POINTS))}", {"f": "json"}
    x, y = _tile(lon, lat, 14)
    return kind, f"{base}/collections/public_services/tiles/WebMercatorQuad/14/{y}/{x}", {"f": "mvt"}


def _tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - np.arcsinh(np.tan(np.radians(lat))) / np.pi) / 2 * n)
    return x, y


def _hammer(base: str, seconds: float, connections: int) -> dict:
    latencies: dict[str, list[float]] = defaultdict(list)
    counts = {"errors": 0, "server_errors": 0, "statuses": defaultdict(int)}
    lock, deadline = threading.Lock(), time.monotonic() + seconds

    def worker(w: int) -> None:
        session, i = requests.Session(), w
        while time.monotonic() < deadline:
            kind, url, params = _requests(base, i)
            i += connections
            started = time.monotonic()
            try:
                status = session.get(url, params=params, timeout=30).status_code
            except requests.RequestException:
                status = None
            took = time.monotonic() - started
            with lock:
                latencies[kind].append(took)
                counts["statuses"][str(status)] += 1
                counts["errors"] += status is None
                counts["server_errors"] += status is not None and status >= 500

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(w,)) for w in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    per_kind = {
        kind: {
            "requests": len(v),
            "p50_ms": round(1000 * float(np.percentile(v, 50)), 1),
            "p99_ms": round(1000 * float(np.percentile(v, 99)), 1),
        }
        for kind, v in latencies.items()
    }
    total = sum(len(v) for v in latencies.values())
    every = [x for v in latencies.values() for x in v]
    return {
        "seconds": round(elapsed, 1),
        "connections": connections,
        "features": POINTS,
        "requests": total,
        "requests_per_s": round(total / elapsed, 1),
        "p50_ms": round(1000 * float(np.percentile(every, 50)), 1),
        "p99_ms": round(1000 * float(np.percentile(every, 99)), 1),
        "errors": counts["errors"],
        "server_errors": counts["server_errors"],
        "statuses": dict(counts["statuses"]),
        "by_kind": per_kind,
    }


def _print(r: dict) -> None:
    print(
        f"{r['requests']} requests in {r['seconds']} s at {r['connections']} connections: "
        f"{r['requests_per_s']} req/s, p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, "
        f"{r['errors']} errors, {r['server_errors']} 5xx, statuses {r['statuses']}"
    )
    for kind, k in r["by_kind"].items():
        print(f"  {kind:7} {k['requests']:6} requests  p50 {k['p50_ms']:7.1f} ms  p99 {k['p99_ms']:7.1f} ms")


if __name__ == "__main__":
    sys.exit(main())
