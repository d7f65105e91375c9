"""Loading, side by side on the same file: sdi load, ogr2ogr, geopandas to_postgis, and a binary COPY floor.

Each tool runs as its own process against the same embedded PostGIS; features/s is the file's features
over the tool's wall time, and peak memory is the process's maximum RSS (from wait4).

    .venv/bin/python benchmarks/load_bench.py POINTS POLYGONS [--out FILE.json]     (0: leave that data set out)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import points, polygons
from scratch import scratch_postgis

HERE = Path(__file__).resolve().parent
SDI = str(Path(sys.executable).with_name("sdi"))
DATASETS = {
    "points": ("public_services", "points.yaml", points),
    "polygons": ("land_use_plans", "polygons.yaml", polygons),
}


def measure(cmd: list[str], env: dict | None = None) -> dict:
    """Wall time and peak RSS of one command; fails loudly if the command fails.

    The peak is the process's VmHWM, read while it runs: wait4's ru_maxrss would count this Python
    process's memory too, because Linux carries the parent's high-water mark across fork and exec.
    """
    with tempfile.TemporaryFile() as errors:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=errors)
        peak_kb = 0
        while proc.poll() is None:
            peak_kb = max(peak_kb, _hwm_kb(proc.pid))
            time.sleep(0.02)
        seconds = time.perf_counter() - started
        if proc.returncode != 0:
            errors.seek(0)
            raise SystemExit(f"{cmd[0]} failed: {errors.read().decode(errors='replace')[-2000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU seconds of the tool's own process (not PostgreSQL's): steadier than wall time on a shared machine
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return {"seconds": round(seconds, 2), "cpu_s": round(cpu, 2), "peak_rss_mb": round(peak_kb / 1024)}


def _hwm_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            return next((int(line.split()[1]) for line in status if line.startswith("VmHWM:")), 0)
    except (OSError, ValueError):
        return 0  # it has just exited


def run(counts: dict[str, int]) -> dict:
    """Every tool on every data set; returns the results by data set and tool."""
    results = {}
    with scratch_postgis("sdi-bench-") as (tmp, home, url):
        for kind, n in counts.items():
            if n == 0:  # e.g. `load_bench.py 300000 0`: issue 17's 300k-point file alone
                continue
            path = DATASETS[kind][2](n, tmp / "data")
            results[kind] = _tools(kind, n, path, url, home)
    return results


def _tools(kind: str, n: int, path: Path, url: str, home: Path) -> dict:
    theme, mapping, _ = DATASETS[kind]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SDI_")}
    env.update(SDI_DATABASE_URL=url, SDI_HOME=str(home))
    c = conninfo_to_dict(url)
    pg = f"PG:host={c['host']} port={c['port']} dbname={c['dbname']} user={c['user']} password={c['password']}"
    out = {"features": n}
    load = [SDI, "load", str(path), "--theme", theme, "--mapping", str(HERE / "mappings" / mapping)]
    out["sdi load, 1st version"] = measure([*load, "--city", "1465011"], env)
    for _ in range(9):  # the steady state a city sees: 10 earlier versions in the theme's history
        measure([*load, "--city", "1465011"], env)
    out["sdi load, 10 versions in history"] = measure([*load, "--city", "1465011"], env)
    city_env = {**env, "SDI_DATABASE_URL": _city_login(url, env, "1261011")}
    out["sdi load as a city login"] = measure([*load, "--city", "1261011"], city_env)
    out["ogr2ogr"] = measure(
        [
            "ogr2ogr",
            "-f",
            "PostgreSQL",
            pg,
            str(path),
            "-nln",
            f"bench_ogr_{kind}",
            "-t_srs",
            "EPSG:2180",
            "-lco",
            "GEOMETRY_NAME=geom",
            "-overwrite",
            "--config",
            "PG_USE_COPY",
            "YES",
            "--config",
            "SHAPE_ENCODING",
            "CP1250",
        ],
        env,
    )
    out["geopandas to_postgis"] = measure(
        [sys.executable, str(HERE / "to_postgis.py"), str(path), url, f"bench_gpd_{kind}"], env
    )
    out["floor: binary COPY into a bare table, then key and GiST (psql)"] = _floor(kind, url, env, path.parent)
    for result in out.values():
        if isinstance(result, dict):
            result["features_per_s"] = round(n / result["seconds"])
    return out


def _city_login(url: str, env: dict, city: str) -> str:
    """A city's own login (sdi city add), and its URL."""
    password = "bench-city-password-0123"
    subprocess.run(
        [SDI, "city", "add", city], env={**env, "SDI_CITY_PASSWORD": password}, check=True, capture_output=True
    )
    params = conninfo_to_dict(url)
    params.update(user=f"sdi_city_{city}", password=password)
    return psycopg.conninfo.make_conninfo(**params)


def _floor(kind: str, url: str, env: dict, folder: Path) -> dict:
    """The true floor: the same rows, already in binary COPY form, into a bare table, then its key and GiST index.

    An index maintained during the COPY costs about 3x (PITFALLS.md), so the floor builds them afterwards,
    as sdi's loads do.
    """
    source, floor, data = f"bench_ogr_{kind}", f"bench_floor_{kind}", folder / f"{kind}.copy"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {floor}")
        conn.execute(f"CREATE TABLE {floor} (LIKE {source} INCLUDING DEFAULTS)")
        with conn.cursor().copy(f"COPY {source} TO STDOUT (FORMAT binary)") as copy, open(data, "wb") as f:
            f.writelines(copy)
    psql = shutil.which("psql") or next(Path("/usr/lib/postgresql").glob("*/bin/psql"))
    return measure(
        [
            str(psql),
            url,
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            f"\\copy {floor} FROM '{data}' WITH (FORMAT binary)",
            "-c",
            f"ALTER TABLE {floor} ADD PRIMARY KEY (ogc_fid)",
            "-c",
            f"CREATE INDEX ON {floor} USING gist (geom)",
            "-c",
            f"ANALYZE {floor}",
        ],
        env,
    )


def table(results: dict) -> str:
    lines = ["| data set | tool | features/s | wall time | CPU (tool) | peak RSS |", "|---|---|---|---|---|---|"]
    for kind, tools in results.items():
        for tool, r in tools.items():
            if isinstance(r, dict):
                lines.append(
                    f"| {tools['features']:,} {kind} | {tool} | {r['features_per_s']:,} | {r['seconds']} s |"
                    f" {r.get('cpu_s', '')} s | {r['peak_rss_mb']} MB |"
                )
    return "\n".join(lines)


if __name__ == "__main__":
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("points", type=int)
    args.add_argument("polygons", type=int)
    args.add_argument("--out", type=Path)
    opts = args.parse_args()
    found = run({"points": opts.points, "polygons": opts.polygons})
    print(table(found))
    if opts.out:
        opts.out.write_text(json.dumps(found, indent=2) + "\n")
