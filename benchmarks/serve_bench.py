"""Serving, side by side on the same view: `sdi serve`, stock pygeoapi (its own PostgreSQL provider), tipg.

Each runs with the same number of worker processes (gunicorn sync workers for the first two, uvicorn
for tipg), on loopback, and wrk (Debian's) sends the requests: a bbox of about 1 km², a CQL2 filter
(ECQL for stock pygeoapi, which parses only that), one item, a deep page (offset 50,000; for sdi, its next
link after fid 50,000), and a z14 vector tile (sdi and
tipg). Each request is measured at 8 and 32 connections.

    .venv/bin/python benchmarks/serve_bench.py FEATURES [--seconds 10] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
import yaml
from psycopg.conninfo import conninfo_to_dict

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import points  # noqa: E402
from page_floor import page_statements, pgbench  # noqa: E402
from scratch import scratch_postgis  # noqa: E402

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
WORKERS = 2
BBOX = [21.00, 52.22, 21.0147, 52.229]  # about 1 km² of Warsaw, in CRS84


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("features", type=int)
    args.add_argument("--seconds", type=float, default=10)
    args.add_argument("--out", type=Path)
    opts = args.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: `make bench` installs it (apt-get install wrk)")
    with scratch_postgis("sdi-serve-bench-") as (tmp, home, url):
        path = points(opts.features, tmp / "data")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SDI_")}
        env.update(SDI_HOME=str(home), SDI_DATABASE_URL=url)
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
                str(HERE / "mappings" / "points.yaml"),
            ],
            env=env,
            check=True,
            capture_output=True,
        )
        results = {}
        with _server([str(BIN / "sdi"), "serve", "--workers", str(WORKERS), "--port"], env) as base:
            results["sdi serve"] = _run_all(base, opts.seconds, ecql=False)
        with _server(_stock_pygeoapi(tmp, url, env), env) as base:
            results["stock pygeoapi"] = _run_all(base, opts.seconds, ecql=True)
        if shutil.which("uvicorn", path=str(BIN)):
            with _server(_tipg(url, env), env, probe="/collections/data.public_services/items?limit=1") as base:
                results["tipg"] = _run_all(base, opts.seconds, ecql=False, tipg=True)
        floor = _floor(url, opts.seconds)  # after the servers: it renews the reader's password
    report = {"features": opts.features, "workers": WORKERS, "seconds": opts.seconds}
    report.update(results=results, floor=floor)
    print(table(report))
    if opts.out:
        opts.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


def _floor(url: str, seconds: float) -> dict:
    """The bbox page's statements, replayed by pgbench: PostgreSQL alone at 8 and 32 connections."""
    reader, statements, features = page_statements(url, "public_services", BBOX)
    return {
        "bbox ~1 km²": {
            "statements": len(statements),
            "features": features,
            **{f"c{c}": pgbench(reader, statements, c, seconds) for c in (8, 32)},
        }
    }


def _stock_pygeoapi(tmp: Path, url: str, env: dict) -> list[str]:
    """pygeoapi's own PostgreSQL provider on the same view, as its documentation configures it."""
    c = conninfo_to_dict(url)
    config = {
        "server": {
            "bind": {"host": "127.0.0.1", "port": 0},
            "url": "http://127.0.0.1",
            "mimetype": "application/json",
            "encoding": "utf-8",
            "languages": ["en-US"],
            "limits": {"default_items": 100, "max_items": 10000},
            "map": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "attribution": "OSM"},
        },
        "logging": {"level": "ERROR"},
        "metadata": {
            "identification": {
                "title": "stock",
                "description": "stock",
                "keywords": [],
                "keywords_type": "theme",
                "terms_of_service": "",
                "url": "",
            },
            "license": {"name": "CC-BY 4.0", "url": ""},
            "provider": {"name": "", "url": ""},
            "contact": {"name": ""},
        },
        "resources": {
            "public_services": {
                "type": "collection",
                "title": "services",
                "description": "services",
                "keywords": [],
                "extents": {
                    "spatial": {"bbox": [14, 49, 24.2, 55], "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}
                },
                "providers": [
                    {
                        "type": "feature",
                        "name": "PostgreSQL",
                        "id_field": "fid",
                        "table": "public_services",
                        "geom_field": "geom",
                        "storage_crs": "http://www.opengis.net/def/crs/EPSG/0/2180",
                        "data": {
                            "host": c["host"],
                            "port": c["port"],
                            "dbname": c["dbname"],
                            "user": c["user"],
                            "password": c["password"],
                            "search_path": ["data", "sdi", "public"],
                        },
                    }
                ],
            }
        },
    }
    cfg, oas = tmp / "stock.yml", tmp / "stock-openapi.yml"
    cfg.write_text(yaml.safe_dump(config))
    subprocess.run(
        [str(BIN / "pygeoapi"), "openapi", "generate", str(cfg), "--output-file", str(oas)],
        check=True,
        capture_output=True,
        env={**env, "PYGEOAPI_CONFIG": str(cfg), "PYGEOAPI_OPENAPI": str(oas)},
    )
    env.update(PYGEOAPI_CONFIG=str(cfg), PYGEOAPI_OPENAPI=str(oas))
    return [str(BIN / "gunicorn"), "--workers", str(WORKERS), "--no-control-socket", "pygeoapi.flask_app:APP", "--bind"]


def _tipg(url: str, env: dict) -> list[str]:
    """tipg (FastAPI, asyncpg) on the same database; it publishes the views of the data schema."""
    c = conninfo_to_dict(url)
    env.update(
        DATABASE_URL=f"postgresql://{c['user']}:{c['password']}@{c['host']}:{c['port']}/{c['dbname']}",
        TIPG_DB_SCHEMAS='["data"]',
        TIPG_MAX_FEATURES_PER_QUERY="10000",
        TIPG_TABLE_CONFIG__data_public_services__pk="fid",
    )  # a view has no primary key of its own
    return [str(BIN / "uvicorn"), "tipg.main:app", "--workers", str(WORKERS), "--log-level", "error", "--port"]


class _server:
    """A server on a free port, started in its own session; its output goes to a temporary log, shown if it fails."""

    def __init__(
        self,
        cmd: list[str],
        env: dict,
        probe: str = "/collections/public_services/items?f=json&limit=1",
        start_timeout: float = 60,
    ):
        self.probe, self.start_timeout = probe, start_timeout
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        address = str(self.port) if cmd[-1] == "--port" else f"127.0.0.1:{self.port}"
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [*cmd, address], env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def __enter__(self) -> str:
        base = f"http://127.0.0.1:{self.port}"
        started = time.monotonic()
        while time.monotonic() - started < self.start_timeout and self.proc.poll() is None:
            try:
                if requests.get(base + self.probe, timeout=15).ok:
                    self.started_s = time.monotonic() - started
                    return base
            except requests.RequestException:
                pass
            time.sleep(0.3)
        self.log.seek(0)
        tail = self.log.read().decode(errors="replace")[-3000:]
        self.__exit__()
        raise SystemExit(f"the server on {base} did not answer within {self.start_timeout:g} s:\n{tail}")

    def __exit__(self, *exc) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=30)
        self.log.close()


def _requests(base: str, ecql: bool, tipg: bool = False) -> dict[str, str]:
    collection = f"{base}/collections/{'data.' if tipg else ''}public_services"
    items, f = f"{collection}/items", "" if tipg else "f=json&"
    lang = "" if ecql else "&filter-lang=cql2-text"
    return {
        "bbox ~1 km²": f"{items}?{f}limit=100&bbox={','.join(f'{v:g}' for v in BBOX)}",
        "CQL2 filter": f"{items}?{f}limit=100{lang}&filter=service_type%3D%27library%27",
        "one item": f"{items}/1234?{f}".rstrip("?"),
        # sdi's next links of a big result are a keyset: the page after fid 50,000 is the one at offset 50,000
        "deep page": f"{items}?{f}limit=100&" + ("after=50000" if not (ecql or tipg) else "offset=50000"),
        # the same tile: OGC API Tiles orders it z/row/col, tipg's path z/x/y
        "z14 tile": f"{collection}/tiles/WebMercatorQuad/14/9147/5400"
        if tipg
        else f"{collection}/tiles/WebMercatorQuad/14/5400/9147?f=mvt",
    }


def _run_all(base: str, seconds: float, ecql: bool, tipg: bool = False) -> dict:
    out = {}
    for name, url in _requests(base, ecql, tipg).items():
        if name == "z14 tile" and ecql:
            continue  # stock pygeoapi serves no tiles from PostgreSQL without its own MVT provider setup
        status = requests.get(url, timeout=30).status_code
        out[name] = {"status": status, **{f"c{c}": _wrk(url, c, seconds) for c in (8, 32)}}
    return out


def _wrk(url: str, connections: int, seconds: float) -> dict:
    text = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{int(seconds)}s", "--latency", "--timeout", "30s", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    latency = {p: _ms(re.search(rf"^\s+{p}%\s+(\S+)", text, re.M).group(1)) for p in ("50", "99")}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return {
        "requests_per_s": rps,
        "p50_ms": latency["50"],
        "p99_ms": latency["99"],
        "non_2xx": int(errors.group(1)) if errors else 0,
    }


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()
    return round(float(number) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit], 2)


def table(report: dict) -> str:
    lines = [
        "| request | server | status | 8 conn: req/s | p50 | p99 | 32 conn: req/s | p50 | p99 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for server, requests_ in report["results"].items():
        for name, r in requests_.items():
            a, b = r["c8"], r["c32"]
            lines.append(
                f"| {name} | {server} | {r['status']} | {a['requests_per_s']:.0f} | {a['p50_ms']} ms |"
                f" {a['p99_ms']} ms | {b['requests_per_s']:.0f} | {b['p50_ms']} ms | {b['p99_ms']} ms |"
            )
    for name, r in report.get("floor", {}).items():
        a, b = r["c8"], r["c32"]
        lines.append(
            f"| {name} | PostgreSQL alone (pgbench, {r['statements']} statements) | - |"
            f" {a['requests_per_s']:.0f} | {a['latency_ms']} ms avg | - | {b['requests_per_s']:.0f} |"
            f" {b['latency_ms']} ms avg | - |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
