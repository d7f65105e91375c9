"""The capacity model of the README, computed from measured figures: storage, loads, API nodes and replicas.

Reads what replica_bench.py measured (benchmarks/results/replicas.json): the CPU milliseconds each request
kind cost on the API nodes (nginx, gunicorn workers) and on the PostgreSQL server that answered it, and the
bytes a stored feature takes. Everything else is a stated assumption on the command line, so the model can be
re-run for another request rate, mix, machine size or CDN hit ratio:

    .venv/bin/python benchmarks/capacity.py [--replicas-json FILE] [--features 100e6] [--rates 100 1000 5000]
        [--mix bbox=0.3,item=0.2,tile=0.5] [--cores 8] [--utilisation 0.6] [--cdn-hit 0 0.9] [--keep 3]
        [--load-rate 50000] [--loads-per-month 1]

A request's CPU time is steadier than its wall time on a shared machine, but it was measured on a 2-core
virtual machine shared with other work (caches and hyper-threads shared too): --utilisation leaves the rest.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
KINDS = {"bbox": "bbox ~1 km²", "item": "one item", "tile": "z14 tile"}
NODE_GROUPS = ("API nodes", "balancer")


def costs(report: dict) -> dict[str, dict[str, float]]:
    """Per request kind: CPU ms on the node side and on the database that served it (median of the rounds).

    Taken from the configurations whose reads went to replicas, so that the database side is the replicas'
    alone; the primary's CPU there is the nodes' catalogue polling, a fixed cost, not one per request.
    """
    out = {}
    for short, name in KINDS.items():
        rows = [s[name]["cpu_ms_per_request"] for s in report["summary"] if s["replicas"] > 0 and name in s]
        if not rows:
            rows = [s[name]["cpu_ms_per_request"] for s in report["summary"] if name in s]
        node = sorted(sum(r.get(g, 0) for g in NODE_GROUPS) for r in rows)
        db = sorted(sum(v for g, v in r.items() if g not in NODE_GROUPS) for r in rows)
        out[short] = {"node_ms": node[len(node) // 2], "db_ms": db[len(db) // 2]}
    return out


def model(cost: dict, mix: dict[str, float], rate: float, hit: float, cores: int, utilisation: float) -> dict:
    """Machines needed for `rate` requests/s of `mix`, a CDN answering `hit` of the tiles."""
    origin = {k: rate * share * (1 - hit if k == "tile" else 1) for k, share in mix.items()}
    node_cpu = sum(origin[k] * cost[k]["node_ms"] for k in mix) / 1000  # cores busy
    db_cpu = sum(origin[k] * cost[k]["db_ms"] for k in mix) / 1000
    per_machine = cores * utilisation
    return {
        "rate": rate,
        "cdn_hit": hit,
        "origin_rate": round(sum(origin.values())),
        "node_cores": round(node_cpu, 1),
        "db_cores": round(db_cpu, 1),
        # one more of each than the load needs: losing one (the failover tests) must not overload the rest
        "api_nodes": math.ceil(node_cpu / per_machine) + 1,
        "replicas": math.ceil(db_cpu / per_machine) + 1,
    }


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--replicas-json", type=Path, default=RESULTS / "replicas.json")
    args.add_argument("--features", type=float, default=100e6)
    args.add_argument("--rates", type=float, nargs="+", default=[100, 1000, 5000])
    args.add_argument("--mix", default="bbox=0.3,item=0.2,tile=0.5")
    args.add_argument("--cores", type=int, default=8, help="cores per API node and per replica")
    args.add_argument("--utilisation", type=float, default=0.6)
    args.add_argument("--cdn-hit", type=float, nargs="+", default=[0.0, 0.9], help="share of tiles a CDN answers")
    args.add_argument("--keep", type=int, default=3, help="versions kept per city and theme (sdi prune --keep)")
    args.add_argument("--load-rate", type=float, default=50_000, help="features/s of one sdi load")
    args.add_argument("--loads-per-month", type=float, default=1.0, help="times every feature is loaded again")
    opts = args.parse_args()
    report = json.loads(opts.replicas_json.read_text())
    mix = {k: float(v) for k, v in (part.split("=") for part in opts.mix.split(","))}
    cost = costs(report)
    size = opts.features * report["stored_bytes_per_feature"]
    print(
        f"measured ({report['features']:,} points, {report['rounds']} rounds): CPU ms per request, node / database:"
        + "".join(f" {k} {c['node_ms']:.1f} / {c['db_ms']:.1f};" for k, c in cost.items())
    )
    print(
        f"storage: {opts.features:,.0f} features x {report['stored_bytes_per_feature']} bytes = {size / 1e9:.0f} GB"
        f" current (the replicas' working set), {size * opts.keep / 1e9:.0f} GB with {opts.keep} versions kept"
    )
    hours = opts.features * opts.loads_per_month / opts.load_rate / 3600
    print(
        f"loads: {opts.loads_per_month:g} x {opts.features:,.0f} features a month at {opts.load_rate:,.0f}"
        f" features/s = {hours:.1f} hours of loading a month on the primary"
    )
    print(
        f"\n| requests/s | CDN answers of tiles | reach the nodes | node cores | database cores | API nodes"
        f" ({opts.cores} cores) | replicas ({opts.cores} cores) |\n|---|---|---|---|---|---|---|"
    )
    for rate in opts.rates:
        for hit in opts.cdn_hit:
            m = model(cost, mix, rate, hit, opts.cores, opts.utilisation)
            print(
                f"| {rate:,.0f} | {hit:.0%} | {m['origin_rate']:,} | {m['node_cores']} | {m['db_cores']} |"
                f" {m['api_nodes']} | {m['replicas']} |"
            )


if __name__ == "__main__":
    main()
