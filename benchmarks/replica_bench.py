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
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import requests
from psycopg.conninfo import conninfo_to_dict, make_conninfo

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import points  # noqa: E402
from scratch import scratch_postgis  # noqa: E402
from serve_bench import BIN, HERE, _requests, _wrk  # noqa: E402

from sdi.server.front import nginx_binary  # noqa: E402

WORKERS = 2  # per node, as serve_bench's servers
REQUESTS = ("bbox ~1 km²", "one item")
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
        _sdi(["load", str(points(opts.features, tmp / "data")), "--city", "1465011", "--theme", "public_services",
              "--mapping", str(HERE / "mappings" / "points.yaml")], {**env, "SDI_HOME": str(home),
                                                                      "SDI_DATABASE_URL": url})
        for _ in range(2):  # `sdi db replica` works on the embedded cluster: no SDI_DATABASE_URL here
            _sdi(["db", "replica", "add"], {**env, "SDI_HOME": str(home)})
        reader = _sdi(["db", "replica", "url"], {**env, "SDI_HOME": str(home)}).strip()
        runs = []
        for round_ in range(opts.rounds):
            for replicas in (0, 1, 2):
                runs += _measure_set(tmp, env, url, _subset(reader, replicas), replicas, opts.seconds, round_)
    report = {"features": opts.features, "workers_per_node": WORKERS, "connections": CONNECTIONS,
              "seconds": opts.seconds, "rounds": opts.rounds, "runs": runs, "summary": summarise(runs)}
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


def _measure_set(tmp: Path, env: dict, owner: str, reader: str, replicas: int, seconds: float, round_: int) -> list:
    """1 node, then 2 nodes, both reading through `reader`, behind one nginx balancer."""
    ports = [_free_port() for _ in range(2)]
    out = []
    with tempfile.TemporaryDirectory(prefix="lb-", dir=tmp) as lb_dir, _Nodes(tmp, env, owner, reader) as nodes:
        os.chmod(lb_dir, 0o755)
        for count in (1, 2):
            while len(nodes.bases) < count:
                nodes.start(ports[len(nodes.bases)])
            with _balancer(Path(lb_dir) / str(count), ports[:count]) as base:
                urls = _requests(base, ecql=False)
                load_before = _loadavg()
                row = {"round": round_, "replicas": replicas, "nodes": count, "loadavg_before": load_before}
                for name in REQUESTS:
                    row[name] = _wrk(urls[name], CONNECTIONS, seconds)
                row["loadavg_after"] = _loadavg()
                row["reader_connections"] = _where_reads_went(owner, reader)
            print(json.dumps(row, ensure_ascii=False), flush=True)
            out.append(row)
    return out


class _Nodes:
    """`sdi serve` processes, each with its own SDI_HOME, sharing the primary and one reader URL."""

    def __init__(self, tmp: Path, env: dict, owner: str, reader: str):
        self.tmp, self.env, self.owner, self.reader = tmp, env, owner, reader
        self.procs: list[subprocess.Popen] = []
        self.bases: list[str] = []

    def start(self, port: int) -> None:
        home = Path(tempfile.mkdtemp(prefix="node-", dir=self.tmp))
        env = {**self.env, "SDI_HOME": str(home), "SDI_DATABASE_URL": self.owner,
               "SDI_READER_DATABASE_URL": self.reader}
        log = open(home / "serve.log", "w")  # noqa: SIM115 -- closed with the process, in __exit__
        proc = subprocess.Popen([str(BIN / "sdi"), "serve", "--port", str(port), "--workers", str(WORKERS)], env=env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        base = f"http://127.0.0.1:{port}"
        _wait(base + "/collections/public_services/items?f=json&limit=1", proc, home / "serve.log")
        self.bases.append(base)

    def __enter__(self) -> _Nodes:
        return self

    def __exit__(self, *exc) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait()


class _balancer:
    """nginx in front of the nodes: round robin over keep-alive connections, as a production front would."""

    def __init__(self, folder: Path, ports: list[int]):
        folder.mkdir()
        self.port = _free_port()
        user = "user nobody nogroup;" if os.geteuid() == 0 else ""
        servers = "".join(f"server 127.0.0.1:{p}; " for p in ports)
        self.conf = folder / "nginx.conf"
        self.conf.write_text(f"""{user}
worker_processes 1;
pid {folder / "nginx.pid"};
error_log stderr error;
events {{ worker_connections 512; }}
http {{
    access_log off;
    proxy_temp_path {folder / "proxy"};
    client_body_temp_path {folder / "body"};
    upstream nodes {{ {servers}keepalive 32; }}
    server {{
        listen 127.0.0.1:{self.port};
        location / {{
            proxy_pass http://nodes;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_buffers 16 64k;
            proxy_max_temp_file_size 0;
        }}
    }}
}}
""")
        self.proc = subprocess.Popen([nginx_binary(), "-e", "stderr", "-p", str(folder), "-c", str(self.conf),
                                      "-g", "daemon off;"], stderr=subprocess.PIPE, start_new_session=True)

    def __enter__(self) -> str:
        base = f"http://127.0.0.1:{self.port}"
        _wait(base + "/collections/public_services/items?f=json&limit=1", self.proc)
        return base

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def _wait(url: str, proc: subprocess.Popen, log: Path | None = None, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:] if log else proc.stderr.read().decode(errors="replace")
            raise SystemExit(f"{proc.args[0]} exited with {proc.returncode}: {tail}")
        try:
            if requests.get(url, timeout=15).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise SystemExit(f"nothing answered at {url} within {seconds} s")


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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _loadavg() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def summarise(runs: list[dict]) -> list[dict]:
    """Per configuration: the range and median of req/s and p50/p99 over the rounds."""
    out = []
    for replicas in (0, 1, 2):
        for nodes in (1, 2):
            rows = [r for r in runs if r["replicas"] == replicas and r["nodes"] == nodes]
            if not rows:
                continue
            entry = {"replicas": replicas, "nodes": nodes,
                     "loadavg": [min(r["loadavg_before"] for r in rows), max(r["loadavg_after"] for r in rows)]}
            for name in REQUESTS:
                entry[name] = {key: _spread([r[name][key] for r in rows])
                               for key in ("requests_per_s", "p50_ms", "p99_ms", "non_2xx")}
            out.append(entry)
    return out


def _spread(values: list[float]) -> dict:
    ordered = sorted(values)
    return {"min": ordered[0], "median": ordered[len(ordered) // 2], "max": ordered[-1]}


def table(report: dict) -> str:
    lines = [f"{report['features']:,} points; {report['workers_per_node']} workers per node; {CONNECTIONS} connections;"
             f" {report['seconds']:g} s per request and configuration; {report['rounds']} rounds (min-max, median)",
             "| replicas | API nodes | bbox req/s | bbox p50 / p99 ms | item req/s | item p50 / p99 ms | non-2xx |"
             " load avg |", "|---|---|---|---|---|---|---|---|"]
    for s in report["summary"]:
        b, i = s[REQUESTS[0]], s[REQUESTS[1]]
        lines.append(f"| {s['replicas']} | {s['nodes']} | {_r(b['requests_per_s'])} | {_r(b['p50_ms'])} /"
                     f" {_r(b['p99_ms'])} | {_r(i['requests_per_s'])} | {_r(i['p50_ms'])} / {_r(i['p99_ms'])} |"
                     f" {b['non_2xx']['max'] + i['non_2xx']['max']} | {s['loadavg'][0]:.1f}-{s['loadavg'][1]:.1f} |")
    return "\n".join(lines)


def _r(spread: dict) -> str:
    lo, mid, hi = (round(spread[k]) for k in ("min", "median", "max"))
    return f"{mid}" if lo == hi else f"{lo}-{hi} ({mid})"


if __name__ == "__main__":
    sys.exit(main())
