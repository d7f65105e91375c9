"""API nodes and a load balancer for the benchmarks: `sdi serve` processes, each with its own SDI_HOME, and one nginx.

Used by replica_bench.py, as separate machines would run them: every node has the primary as
SDI_DATABASE_URL and one shared SDI_READER_DATABASE_URL.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from sdi.server.front import nginx_binary

BIN = Path(sys.executable).parent
PROBE = "/collections/public_services/items?f=json&limit=1"


class Nodes:
    """`sdi serve` processes, each with its own SDI_HOME, sharing the primary and one reader URL."""

    def __init__(self, tmp: Path, env: dict, owner: str, reader: str, workers: int):
        self.tmp, self.env, self.owner, self.reader, self.workers = tmp, env, owner, reader, workers
        self.procs: list[subprocess.Popen] = []
        self.logs: list = []
        self.bases: list[str] = []

    def start(self, port: int) -> None:
        home = Path(tempfile.mkdtemp(prefix="node-", dir=self.tmp))
        env = {
            **self.env,
            "SDI_HOME": str(home),
            "SDI_DATABASE_URL": self.owner,
            "SDI_READER_DATABASE_URL": self.reader,
        }
        self.logs.append(open(home / "serve.log", "w"))  # noqa: SIM115 -- closed with the process, in __exit__
        proc = subprocess.Popen(
            [str(BIN / "sdi"), "serve", "--port", str(port), "--workers", str(self.workers)],
            env=env,
            stdout=self.logs[-1],
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(proc)
        base = f"http://127.0.0.1:{port}"
        wait(base + PROBE, proc, home / "serve.log")
        self.bases.append(base)

    def __enter__(self) -> Nodes:
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
        for log in self.logs:
            log.close()


class Balancer:
    """nginx in front of the nodes: round robin over keep-alive connections, as a production front would."""

    def __init__(self, folder: Path, ports: list[int]):
        folder.mkdir()
        self.port = free_port()
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
        self.proc = subprocess.Popen(
            [nginx_binary(), "-e", "stderr", "-p", str(folder), "-c", str(self.conf), "-g", "daemon off;"],
            stderr=subprocess.PIPE,
            start_new_session=True,
        )

    def __enter__(self) -> Balancer:
        self.base = f"http://127.0.0.1:{self.port}"
        wait(self.base + PROBE, self.proc)
        return self

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def wait(url: str, proc: subprocess.Popen, log: Path | None = None, seconds: float = 120) -> None:
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
