"""Bulk downloads at scale: one data set's GeoPackage write (time, peak RSS) and `sdi serve`'s start with it loaded.

Two figures, on N points of one city in public_services (benchmarks/generate.py, loaded by `sdi load`):
- the write of the city's GeoPackage by sdi.server.downloads, in a process of its own: wall time and peak RSS
  (VmHWM, read while it runs), beside the same process without the write (imports and catalogue);
- `sdi serve` from a fresh SDI_HOME (no download file yet): seconds to the first 200 of /collections, and to
  the first /collections/public_services that links the GeoPackages (`enclosure`).

    .venv/bin/python benchmarks/downloads_bench.py 1000000 [--url DATABASE_URL] [--out FILE.json]

--url reuses a database that already holds the points (city 1465011), e.g. to compare two checkouts: run it
with PYTHONPATH=/path/to/other/checkout to measure that checkout's sdi.server.downloads.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import points  # noqa: E402
from load_bench import _hwm_kb  # noqa: E402
from scratch import scratch_postgis  # noqa: E402
from serve_bench import BIN, HERE, WORKERS, _server  # noqa: E402

CITY = "1465011"
_WRITE = """
import sys, time
from pathlib import Path
from sdi.core.catalogue import open_catalogue
from sdi.core.settings import Settings
from sdi.server import downloads
from sdi.server.datasets import published
settings = Settings(home=Path(sys.argv[1]), database_url=sys.argv[2])
with open_catalogue(settings) as conn:
    ds = next(d for d in published(conn, settings) if (d.city, d.theme) == ("{city}", "public_services"))
    if sys.argv[3] == "write":
        started = time.perf_counter()
        downloads._write(conn, ds, Path(sys.argv[4]))
        print(time.perf_counter() - started)
"""


def write(url: str, tmp: Path, what: str) -> dict:
    """One process that writes the city's GeoPackage (or, with what="baseline", only finds its data set)."""
    target = tmp / "out.gpkg"
    cmd = [sys.executable, "-c", _WRITE.format(city=CITY), str(tmp / "home-w"), url, what, str(target)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak_kb = 0
    while proc.poll() is None:
        peak_kb = max(peak_kb, _hwm_kb(proc.pid))
        time.sleep(0.02)
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"the write failed: {err[-2000:]}")
    result = {"peak_rss_mb": round(peak_kb / 1024)}
    if what == "write":
        result.update(seconds=round(float(out.split()[-1]), 2), file_mb=round(target.stat().st_size / 2**20, 1))
        result["patch_instead"] = patch(target)
        target.unlink()
    return result


def patch(national: Path, rows: int = 50) -> dict:
    """What updating a national file per city would cost instead of rewriting it: copy it aside (nginx serves the
    old one), delete one city's rows (a scan: no index on city), append its new rows, rename; in seconds."""
    import shutil
    import sqlite3

    import pyogrio

    started = time.perf_counter()
    aside = national.with_name("patched.gpkg")
    shutil.copyfile(national, aside)
    copied = time.perf_counter()
    with sqlite3.connect(aside) as db:  # another city's rows: the scan is the cost (no index on city)
        gone = db.execute("DELETE FROM public_services WHERE city = '0201012'").rowcount
    deleted = time.perf_counter()
    new = pyogrio.read_dataframe(national, max_features=rows)
    new["city"] = "0201012"
    pyogrio.write_dataframe(new, aside, layer="public_services", append=True)
    os.replace(aside, national.with_name("national.gpkg"))
    done = time.perf_counter()
    return {
        "copy_s": round(copied - started, 2),
        "delete_s": round(deleted - copied, 2),
        "append_s": round(done - deleted, 2),
        "total_s": round(done - started, 2),
        "deleted": gone,
    }


def serve(url: str, tmp: Path, links_timeout: float) -> dict:
    """`sdi serve` from an SDI_HOME with no download file: first 200 of /collections, then the first enclosure."""
    home = Path(tempfile.mkdtemp(prefix="serve-", dir=tmp))
    home.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SDI_") or k == "SDI_CSW_VENV"}
    env.update(SDI_HOME=str(home), SDI_DATABASE_URL=url)
    cmd = [str(BIN / "sdi"), "serve", "--workers", str(WORKERS), "--port"]
    started = time.monotonic()
    server = _server(cmd, env, probe="/collections?f=json", start_timeout=1800)
    with server as base:
        links_s = None
        deadline = time.monotonic() + links_timeout
        while time.monotonic() < deadline:
            doc = requests.get(f"{base}/collections/public_services?f=json", timeout=30).json()
            if any(x["rel"] == "enclosure" for x in doc["links"]):
                links_s = time.monotonic() - started
                break
            time.sleep(0.5)
    return {"first_200_s": round(server.started_s, 1), "links_s": None if links_s is None else round(links_s, 1)}


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("points", type=int)
    args.add_argument("--url", help="a database that already holds the points (city 1465011)")
    args.add_argument("--links-timeout", type=float, default=600)
    args.add_argument("--out", type=Path)
    opts = args.parse_args()
    with tempfile.TemporaryDirectory(prefix="sdi-downloads-") as scratch:
        tmp = Path(scratch)
        tmp.chmod(0o755)
        if opts.url:
            result = _measure(opts.url, tmp, opts)
        else:
            with scratch_postgis("sdi-downloads-db-") as (dbtmp, home, url):
                path = points(opts.points, dbtmp / "data", "gpkg")
                env = {k: v for k, v in os.environ.items() if not k.startswith("SDI_")}
                env.update(SDI_HOME=str(home), SDI_DATABASE_URL=url)
                mapping = HERE / "mappings" / "points_gpkg.yaml"
                load = [str(BIN / "sdi"), "load", str(path), "--city", CITY, "--theme", "public_services"]
                subprocess.run([*load, "--mapping", str(mapping)], env=env, check=True, capture_output=True)
                result = _measure(url, tmp, opts)
    print(json.dumps(result, indent=1))
    if opts.out:
        opts.out.write_text(json.dumps(result, indent=1), encoding="utf-8")


def _measure(url: str, tmp: Path, opts: argparse.Namespace) -> dict:
    return {
        "points": opts.points,
        "write": write(url, tmp, "write"),
        "without_the_write": write(url, tmp, "baseline"),
        "serve": serve(url, tmp, opts.links_timeout),
    }


if __name__ == "__main__":
    main()
