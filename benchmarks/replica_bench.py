"""Reads beyond one machine: 0, 1 and 2 streaming replicas x 1 and 2 `sdi serve` nodes, side by side in one run.

One embedded cluster (a throw-away SDI_HOME) with the points loaded, then two replicas made by
`sdi db replica add` (pg_basebackup -R). `sdi db replica url` gives the one reader URL over them; each
configuration hands the nodes that URL cut down to its replicas (0 replicas: the primary alone). Each node is
a separate `sdi serve` with its own SDI_HOME, the primary as SDI_DATABASE_URL and the reader URL as
SDI_READER_DATABASE_URL, as separate machines would run it. One nginx (a load balancer, round robin, with
keep-alive) sits in front in every configuration, so that 1 node and 2 nodes pay the same hop; wrk sends a
~1 km² bbox page and one item at 8 connections. Configurations are interleaved round by round, so that the
shared machine's noise falls on all of them alike. After each measurement the reader's connections are
counted on every server: that is where the reads went.

    .venv/bin/python benchmarks/replica_bench.py FEATURES [--seconds 5] [--rounds 3] [--out FILE.json]

On 2 cores every server shares the same CPUs, so no gain is expected: the figures show that reads over
replicas and several nodes neither break (non-2xx) nor slow down.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import requests
from psycopg.conninfo import conninfo_to_dict, make_conninfo

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cpu_groups  # noqa: E402
from generate import points  # noqa: E402
from nodes import Balancer, Nodes, free_port  # noqa: E402
from scratch import scratch_postgis  # noqa: E402
from serve_bench import BIN, HERE, _requests, _wrk  # noqa: E402

WORKERS = 2  # per node, as serve_bench's servers
REQUESTS = ("bbox ~1 km²", "one item", "z14 tile")
CONNECTIONS = 8


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("features", type=int)
    args.add_argument("--seconds", type=float, default=5)
    args.add_argument("--rounds", type=int, default=3)
    args.add_argument("--out", type=Path)
    opts = args.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: `make bench` installs it (apt-get install wrk)")
    with scratch_postgis("sdi-replica-bench-") as (tmp, home, url):
        env = {k: v for k, v in os.environ.items() if not k.startswith("SDI_")}
        _sdi(
            [
                "load",
                str(points(opts.features, tmp / "data")),
                "--city",
                "1465011",
                "--theme",
                "public_services",
                "--mapping",
                str(HERE / "mappings" / "points.yaml"),
            ],
            {**env, "SDI_HOME": str(home), "SDI_DATABASE_URL": url},
        )
        for _ in range(2):  # `sdi db replica` works on the embedded cluster: no SDI_DATABASE_URL here
            _sdi(["db", "replica", "add"], {**env, "SDI_HOME": str(home)})
        reader = _sdi(["db", "replica", "url"], {**env, "SDI_HOME": str(home)}).strip()
        servers = _postmasters(home)
        stored = _bytes_per_feature(url)
        runs = []
        for round_ in range(opts.rounds):
            for replicas in (0, 1, 2):
                runs += _measure_set(tmp, env, url, _subset(reader, replicas), replicas, opts.seconds, round_, servers)
    report = {
        "features": opts.features,
        "workers_per_node": WORKERS,
        "connections": CONNECTIONS,
        "seconds": opts.seconds,
        "rounds": opts.rounds,
        "stored_bytes_per_feature": stored,
        "runs": runs,
        "summary": summarise(runs),
    }
    print(table(report))
    if opts.out:
        opts.out.parent.mkdir(parents=True, exist_ok=True)
        opts.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    broken = sum(r[name]["non_2xx"] for r in runs for name in REQUESTS)
    if broken:
        print(f"{broken} non-2xx answers", file=sys.stderr)
    return 1 if broken else 0


def _sdi(args: list[str], env: dict) -> str:
    done = subprocess.run([str(BIN / "sdi"), *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"sdi {' '.join(args[:3])} failed: {done.stderr[-2000:]}")
    return done.stdout


def _subset(reader: str, replicas: int) -> str:
    """The reader URL over the first `replicas` replicas and the primary (always last), as libpq reads it."""
    params = conninfo_to_dict(reader)
    hosts, ports = params["host"].split(","), params["port"].split(",")
    keep = list(range(replicas)) + [len(hosts) - 1]
    params.update(host=",".join(hosts[i] for i in keep), port=",".join(ports[i] for i in keep))
    if replicas == 0:  # the primary alone: what one machine does
        for key in ("target_session_attrs", "load_balance_hosts"):
            params.pop(key, None)
    return make_conninfo(**params)


def _measure_set(
    tmp: Path,
    env: dict,
    owner: str,
    reader: str,
    replicas: int,
    seconds: float,
    round_: int,
    servers: dict[str, list[int]],
) -> list:
    """1 node, then 2 nodes, both reading through `reader`, behind one nginx balancer."""
    ports = [free_port() for _ in range(2)]
    out = []
    with tempfile.TemporaryDirectory(prefix="lb-", dir=tmp) as lb_dir, Nodes(tmp, env, owner, reader, WORKERS) as nodes:
        os.chmod(lb_dir, 0o755)
        for count in (1, 2):
            while len(nodes.bases) < count:
                nodes.start(ports[len(nodes.bases)])
            with Balancer(Path(lb_dir) / str(count), ports[:count]) as lb:
                base = lb.base
                urls = _requests(base, ecql=False)
                load_before = _loadavg()
                row = {"round": round_, "replicas": replicas, "nodes": count, "loadavg_before": load_before}
                roots = {**servers, "API nodes": [p.pid for p in nodes.procs], "balancer": [lb.proc.pid]}
                for name in REQUESTS:
                    for _ in range(2 * count * WORKERS):  # every worker has imported and connected: no cold start
                        requests.get(urls[name], timeout=60)
                    before = cpu_groups.snapshot()
                    row[name] = _wrk(urls[name], CONNECTIONS, seconds)
                    served = max(row[name]["requests_per_s"] * seconds, 1)  # none answered: still a row
                    used = cpu_groups.by_group(before, cpu_groups.snapshot(), roots)
                    row[name]["cpu_ms_per_request"] = {g: round(1000 * cpu / served, 2) for g, cpu in used.items()}
                row["loadavg_after"] = _loadavg()
                row["reader_connections"] = _where_reads_went(owner, reader)
            print(json.dumps(row, ensure_ascii=False), flush=True)
            out.append(row)
    return out


def _where_reads_went(owner: str, reader: str) -> dict[str, int]:
    """The reader's open connections on each server of its URL (the primary named as such)."""
    role = conninfo_to_dict(reader)["user"]
    primary_port = str(conninfo_to_dict(owner)["port"])
    counts = {}
    for i, port in enumerate(conninfo_to_dict(reader)["port"].split(",")):
        with psycopg.connect(make_conninfo(owner, port=port), autocommit=True, connect_timeout=5) as conn:
            n = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = %s", [role]).fetchone()[0]
        counts["primary" if port == primary_port else f"replica{i + 1}"] = n  # `sdi db replica add`'s order
    return counts


def _postmasters(home: Path) -> dict[str, list[int]]:
    """The postmaster of the primary and of each replica, by name (their children are the backends)."""
    from sdi.core.cluster import Cluster
    from sdi.core.settings import Settings

    state = Cluster(Settings(home=home))._read_state()
    dirs = {"primary": state.data_dir, **{r["name"]: r["data_dir"] for r in state.replicas}}
    return {name: [int(Path(d, "postmaster.pid").read_text().split()[0])] for name, d in dirs.items()}


def _bytes_per_feature(url: str) -> int:
    """What a stored point costs on disk: its partition's heap, TOAST and indexes over its rows."""
    with psycopg.connect(url, autocommit=True) as conn:
        size = conn.execute(
            "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n"
            " ON n.oid = c.relnamespace WHERE n.nspname = 'history' AND c.relkind = 'r'"
        ).fetchone()[0]
        rows = conn.execute("SELECT count(*) FROM data.public_services").fetchone()[0]
    return round(size / rows)


def _loadavg() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def summarise(runs: list[dict]) -> list[dict]:
    """Per configuration: the range and median over the rounds of req/s, p50/p99 and CPU ms per request."""
    out = []
    for replicas in (0, 1, 2):
        for nodes in (1, 2):
            rows = [r for r in runs if r["replicas"] == replicas and r["nodes"] == nodes]
            if not rows:
                continue
            entry = {
                "replicas": replicas,
                "nodes": nodes,
                "loadavg": [min(r["loadavg_before"] for r in rows), max(r["loadavg_after"] for r in rows)],
            }
            for name in REQUESTS:
                entry[name] = {
                    key: _spread([r[name][key] for r in rows])
                    for key in ("requests_per_s", "p50_ms", "p99_ms", "non_2xx")
                }
                groups = rows[0][name]["cpu_ms_per_request"]
                entry[name]["cpu_ms_per_request"] = {
                    g: _spread([r[name]["cpu_ms_per_request"][g] for r in rows])["median"] for g in groups
                }
            out.append(entry)
    return out


def _spread(values: list[float]) -> dict:
    ordered = sorted(values)
    return {"min": ordered[0], "median": ordered[len(ordered) // 2], "max": ordered[-1]}


def table(report: dict) -> str:
    """Throughput and latency per configuration, then where each request's CPU went."""
    short = {"bbox ~1 km²": "bbox", "one item": "item", "z14 tile": "tile"}
    lines = [
        f"{report['features']:,} points ({report['stored_bytes_per_feature']} bytes each stored, indexes"
        f" included); {report['workers_per_node']} workers per node; {CONNECTIONS} connections;"
        f" {report['seconds']:g} s per request and configuration; {report['rounds']} rounds: min-max (median)",
        "| replicas | API nodes | "
        + " | ".join(f"{short[n]} req/s | {short[n]} p50 / p99 ms" for n in REQUESTS)
        + " | non-2xx | load avg |",
        "|---|---|" + "---|---|" * len(REQUESTS) + "---|---|",
    ]
    for s in report["summary"]:
        cells = [f"{_r(s[n]['requests_per_s'])} | {_r(s[n]['p50_ms'])} / {_r(s[n]['p99_ms'])}" for n in REQUESTS]
        broken = sum(s[n]["non_2xx"]["max"] for n in REQUESTS)
        lines.append(
            f"| {s['replicas']} | {s['nodes']} | "
            + " | ".join(cells)
            + f" | {broken} | {s['loadavg'][0]:.1f}-{s['loadavg'][1]:.1f} |"
        )
    lines += [
        "",
        "CPU ms per request (median over the rounds), by process group",
        "| replicas | API nodes | request | " + " | ".join(_groups(report)) + " |",
        "|---|---|---|" + "---|" * len(_groups(report)),
    ]
    for s in report["summary"]:
        for n in REQUESTS:
            cpu = s[n]["cpu_ms_per_request"]
            lines.append(
                f"| {s['replicas']} | {s['nodes']} | {short[n]} | "
                + " | ".join(f"{cpu.get(g, 0):.2f}" for g in _groups(report))
                + " |"
            )
    return "\n".join(lines)


def _groups(report: dict) -> list[str]:
    return list(report["summary"][0][REQUESTS[0]]["cpu_ms_per_request"]) if report["summary"] else []


def _r(spread: dict) -> str:
    lo, mid, hi = (round(spread[k]) for k in ("min", "median", "max"))
    return f"{mid}" if lo == hi else f"{lo}-{hi} ({mid})"


if __name__ == "__main__":
    sys.exit(main())
