"""The front of `sdi serve` end to end: nginx, the workers' OS user, tokens in logs, and a real browser.

Each test starts the real `sdi serve` (nginx in front of pygeoapi under gunicorn) over a fresh PostGIS.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import pwd
import re
import shutil
import socket
import statistics
import subprocess
import threading
import time
from pathlib import Path

import psycopg
import pytest
import requests

from sdi.core.sample import SAMPLE_CITY
from sdi.pipeline import run_load

from conftest import SDI, _stop_group, free_port, run_sdi, wait_for_http

ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="workers switch users only when sdi serve runs as root")


@contextlib.contextmanager
def serving(db_url: str, home: Path, workers: int = 1):
    """`sdi serve` on a free port; yields (base URL, its process, the file with its stdout and stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SDI_")}
    env.update(SDI_DATABASE_URL=db_url, SDI_HOME=str(home))
    home.mkdir(parents=True, exist_ok=True)
    log_path = home.parent / f"serve-{home.name}.log"  # beside $SDI_HOME: not one of the files it writes
    port = free_port()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [SDI, "serve", "--port", str(port), "--workers", str(workers)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base}/collections?f=json", proc, log=log_path)
        yield base, proc, log_path
    finally:
        _stop_group(proc)


@pytest.fixture
def loaded(settings, sample) -> None:
    for theme, path in sample.items():
        run_load(path, city=SAMPLE_CITY, theme=theme, settings=settings)


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")


def _master(proc: subprocess.Popen, name: str) -> int:
    return next(p for p in _children(proc.pid) if name in _cmdline(p))


def test_slow_clients_do_not_stall_the_api(loaded, db_url, tmp_path):
    # Slowloris: each connection sends part of a header, then one more header line every 2 s. With gunicorn
    # alone, two of these held its sync workers and every request waited 33 s; nginx waits for them instead.
    slow_count = 8  # four times the workers and more
    with serving(db_url, tmp_path / "home", workers=2) as (base, _, _):
        port = int(base.rsplit(":", 1)[1])
        slow = [socket.create_connection(("127.0.0.1", port)) for _ in range(slow_count)]
        for s in slow:
            s.sendall(b"GET /collections HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        stop = threading.Event()

        def trickle() -> None:
            while not stop.wait(2):
                for s in slow:
                    with contextlib.suppress(OSError):
                        s.sendall(b"X-a: b\r\n")

        threading.Thread(target=trickle, daemon=True).start()
        times, started = [], time.monotonic()
        try:
            while time.monotonic() - started < 8:
                t0 = time.monotonic()
                r = requests.get(f"{base}/collections/roads/items", params={"f": "json", "limit": 5}, timeout=40)
                times.append(time.monotonic() - t0)
                assert r.status_code == 200
                time.sleep(0.2)
            print(
                f"\n{slow_count} slowloris connections open: {len(times)} normal requests, "
                f"median {statistics.median(times):.3f} s, max {max(times):.3f} s"
            )
            assert max(times) < 2, f"a normal request took {max(times):.1f} s behind slow clients"
            # and nginx gives up on a header that never ends (client_header_timeout 10 s)
            # nginx closes the socket; the kernel turns that close into a reset when the trickle's last
            # header line is still unread in it, so a reset is the same answer as an empty read
            for s in slow:
                s.settimeout(25)
                try:
                    answer = s.recv(1024)
                except ConnectionResetError:
                    answer = b""
                assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer[:80]
        finally:
            stop.set()
            for s in slow:
                s.close()


def test_a_body_over_1mb_gets_a_json_413_from_the_front(loaded, db_url, tmp_path):
    with serving(db_url, tmp_path / "home") as (base, _, log_path):
        url = f"{base}/collections/roads/items"
        big = requests.post(
            url,
            data=b'{"op": "=", "args": [' + b" " * 2_000_000 + b"]}",
            headers={"Content-Type": "application/query-cql-json"},
            timeout=30,
        )
        assert big.status_code == 413 and big.json()["code"] == "PayloadTooLarge"
        small = requests.post(
            url,
            params={"f": "json"},
            json={"op": "=", "args": [{"property": "city"}, SAMPLE_CITY]},
            headers={"Content-Type": "application/query-cql-json"},
            timeout=30,
        )
        assert small.status_code == 200 and small.json()["numberMatched"] == 9
        static = requests.get(f"{base}/static/css/default.css", timeout=10)
        assert static.status_code == 200 and "text/css" in static.headers["Content-Type"]
    # gunicorn never saw the big body nor the static file: nginx answered both
    posts = [
        line
        for line in log_path.read_text().splitlines()
        if '"POST /collections/roads/items' in line and "HTTP/1.0" in line
    ]  # gunicorn's access log: nginx speaks HTTP/1.0 to it
    assert len(posts) == 1 and '?f=json HTTP/1.0" 200' in posts[0]
    assert "/static/css" not in log_path.read_text()


def test_pygeoapi_links_name_the_front(loaded, db_url, tmp_path):
    with serving(db_url, tmp_path / "home") as (base, _, _):
        body = requests.get(f"{base}/collections/roads", params={"f": "json"}, timeout=10).json()
        assert any(link["href"].startswith(f"{base}/collections/roads") for link in body["links"])
        conf = (tmp_path / "home" / "front" / "nginx.conf").read_text()
    assert "X-Forwarded-For" in conf and "the services beside the API" in conf


def test_a_missing_nginx_is_one_line_with_the_fix(tmp_path):
    from sdi.core.errors import ServeError
    from sdi.server.front import nginx_binary

    with pytest.raises(ServeError) as caught:
        nginx_binary(search_path=str(tmp_path))
    assert "nginx is not installed" in str(caught.value) and "make setup" in caught.value.fix


@ROOT_ONLY
def test_workers_run_as_their_own_user_and_cannot_read_secrets(loaded, db_url, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    secret = home / "cluster.json"  # as the embedded cluster writes it: root's, mode 600, the owner's password
    owner_password = psycopg.conninfo.conninfo_to_dict(db_url)["password"]
    secret.write_text(json.dumps({"password": owner_password}))
    secret.chmod(0o600)
    with serving(db_url, home, workers=2) as (base, proc, _):
        assert requests.get(f"{base}/collections/buildings/items?f=json", timeout=10).status_code == 200
        api_uid = pwd.getpwnam("sdi-api").pw_uid
        gunicorn_workers = _children(_master(proc, "gunicorn"))
        nginx_workers = _children(_master(proc, "nginx"))
        assert len(gunicorn_workers) == 2 and nginx_workers
        for pid in gunicorn_workers + nginx_workers:
            status = Path(f"/proc/{pid}/status").read_text()
            uids = re.search(r"^Uid:\s+(.*)$", status, re.MULTILINE).group(1).split()
            assert set(uids) == {str(api_uid)}, f"{_cmdline(pid)[:60]} runs as {uids}"
        for pid in gunicorn_workers:
            environ = Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")
            assert owner_password not in environ
            url = re.search(r"SDI_DATABASE_URL=([^\0]+)", environ).group(1)
            assert psycopg.conninfo.conninfo_to_dict(url)["user"].endswith("_reader")
        config = home / "pygeoapi" / "config.yml"
        as_api = ["runuser", "-u", "sdi-api", "--", "cat"]
        # what it serves
        assert subprocess.run([*as_api, str(config)], check=False, capture_output=True).returncode == 0
        denied = subprocess.run([*as_api, str(secret)], check=False, capture_output=True, text=True)
        assert denied.returncode != 0 and "Permission denied" in denied.stderr and owner_password not in denied.stdout


def test_tokens_never_reach_a_log(loaded, db_url, tmp_path):
    made = run_sdi("token", "add", "logs", env={"SDI_DATABASE_URL": db_url})
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip().splitlines()[0]
    home = tmp_path / "home"
    with serving(db_url, home) as (base, _, log_path):
        port = int(base.rsplit(":", 1)[1])
        # http.client sends the path as written (requests would decode %5F and %61 before sending)
        # names that decode to access_token are read as the token; other spellings are unknown parameters, which
        # OGC API Features Part 1 answers with a 400 (/req/core/query-param-unknown): logged all the same
        for query, status in (
            (f"access%5Ftoken={token}", 200),
            (f"%61ccess_token={token}", 200),
            (f"ACCESS_TOKEN=x&access_token={token}", 400),
            (f"f=json&Access%5FToken={token}&%2561ccess_token={token}", 400),
        ):
            assert _get(port, f"/collections/public_services/items?{query}") == status, query
        # a body nginx refuses: its error log names the request line
        assert _get(port, f"/collections/roads/items?%61ccess_token={token}", body=b"x" * 1_500_000) == 413
        # a request line gunicorn refuses, sent to its socket: its error log quotes the line
        sock_path = re.search(r"unix:(\S+);", (home / "front" / "nginx.conf").read_text()).group(1)
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(sock_path)
            s.sendall(f"GET /collections?access%5Ftoken={token}\r\n\r\n".encode())
            s.recv(1024)
        time.sleep(1)  # the parent passes the children's lines on from its threads
    logs = {log_path: log_path.read_text(errors="replace")}
    logs.update({p: p.read_text(errors="replace") for p in home.rglob("*") if p.is_file() and p.suffix in (".log", "")})
    everything = "\n".join(logs.values())
    leaked = [str(p) for p, text in logs.items() if token in text]
    assert not leaked, f"the token is in {leaked}"
    assert "access%5Ftoken=***" in everything and "%61ccess_token=***" in everything  # the requests were logged
    assert "Invalid HTTP request line" in everything and "too large body" in everything  # so were both errors


def _get(port: int, path: str, body: bytes | None = None) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST" if body else "GET", path, body=body)
        return conn.getresponse().status
    finally:
        conn.close()


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "chromium is not installed: run `make test-system`"
    return found


def _dump_dom(url: str, profile: Path) -> str:
    cmd = [
        _chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=5000",
        "--dump-dom",
        url,
    ]
    return subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=120).stdout


def test_xss_payload_does_not_run_in_a_browser(db_url, settings, tmp_path):
    payload = "</script><img src=x onerror=\"document.title='pwned'\">"
    source = tmp_path / "uslugi.geojson"
    source.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "geometry": {"type": "Point", "coordinates": [20.63, 50.87]},
                        "properties": {"id": "1", "name": payload, "service_type": "school"},
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    run_load(source, city=SAMPLE_CITY, theme="public_services", settings=settings)
    with serving(db_url, tmp_path / "home") as (base, _, _):
        items = requests.get(f"{base}/collections/public_services/items", params={"f": "json"}, timeout=10).json()
        assert items["features"][0]["properties"]["name"] == payload  # the data is kept as it came
        fid = items["features"][0]["id"]
        for url in (
            f"{base}/collections/public_services/items?f=html",
            f"{base}/collections/public_services/items/{fid}?f=html",
        ):
            dom = _dump_dom(url, tmp_path / "chromium")
            assert "<body" in dom, f"chromium rendered nothing for {url}"
            title = re.search(r"<title>(.*?)</title>", dom, re.DOTALL)
            # the item page's tab title names the feature, so it holds the payload as text; had the payload run,
            # the title would be exactly what its script set
            assert title is None or title.group(1).strip() != "pwned", f"the payload ran on {url}"
            assert not re.search(r"<img[^>]*src=\"x\"", dom), f"the payload made an <img> on {url}"
