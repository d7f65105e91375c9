"""pygeoapi's HTML pages as a planner reads them (issue 20): Polish with English, labels not codes, names not ids,
no CDN, readable on a phone, rasters drawn at a useful size with a legend. Real sdi serve, real headless Chromium
(driven over its DevTools protocol, with the network blocked but 127.0.0.1)."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import socket
import subprocess
import time
from html.parser import HTMLParser

import pytest
import requests

from sdi.core.config import registry
from sdi.core.sample import SAMPLE_CITY, write_sample_rasters
from sdi.pipeline import run_load_raster
from sdi.server.labels import plural

from conftest import free_port, fresh_database, load_sample, running_api


@pytest.fixture(scope="module")
def site(server_url, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pages")
    with fresh_database(server_url) as db_url:
        settings = load_sample(tmp, db_url)
        for theme, path in write_sample_rasters(tmp / "sample").items():
            run_load_raster(path, city=SAMPLE_CITY, theme=theme, settings=settings)
        with running_api(db_url, tmp / "home") as base:
            yield base


def _html(base: str, path: str) -> str:
    answer = requests.get(base + path, headers={"Accept": "text/html"}, timeout=60)
    assert answer.status_code == 200, answer.text[:300]
    return answer.content.decode("utf-8")  # the pages say so in <meta charset>; some headers do not


class _Cells(HTMLParser):
    """Texts of th/td cells, h1 and title."""

    def __init__(self) -> None:
        super().__init__()
        self.found: dict[str, list[str]] = {"td": [], "th": [], "h1": [], "title": []}
        self._open: list[tuple[str, list[str]]] = []

    def handle_starttag(self, tag, attrs):
        if tag in self.found:
            self._open.append((tag, []))

    def handle_endtag(self, tag):
        if self._open and self._open[-1][0] == tag:
            name, parts = self._open.pop()
            self.found[name].append(" ".join("".join(parts).split()))

    def handle_data(self, data):
        for _, parts in self._open:
            parts.append(data)


def _cells(page: str) -> dict[str, list[str]]:
    parser = _Cells()
    parser.feed(page)
    return parser.found


PAGES = [
    "/",
    "/collections",
    "/collections/roads",
    "/collections/roads/items",
    "/collections/roads/items/1",
    "/collections/elevation",
]


@pytest.mark.parametrize("path", PAGES)
def test_pages_are_polish_ltr_with_a_tab_title_and_no_cdn(site, path):
    page = _html(site, path)
    assert 'dir="ltr"' in page and "text_direction" not in page
    title = _cells(page)["title"][0]
    assert title and not title.startswith(("Home", " ")), title
    for host in ("unpkg.com", "jsdelivr", "cdnjs", "googleapis", "gstatic"):
        assert host not in page, host
    assert "Mapa / Map" in page and "Kolekcje / Collections" in page
    policy = requests.get(site + path, headers={"Accept": "text/html"}, timeout=30).headers["Content-Security-Policy"]
    script_src = re.search(r"script-src ([^;]*)", policy).group(1).split()
    assert script_src[0] == "'self'" and all(s.startswith("'nonce-") for s in script_src[1:]), policy


def test_tab_titles_name_the_page(site):
    assert _cells(_html(site, "/collections/roads/items"))["title"][0].startswith("Obiekty / Items: Drogi")
    assert _cells(_html(site, "/collections/roads/items/1"))["title"][0].startswith("ul. Świętokrzyska")


def test_items_table_has_labels_no_none_and_no_internal_ids(site):
    page = _html(site, "/collections/roads/items")
    cells = _cells(page)
    assert "Obiekty / Items" in page and "Liczba obiektów na stronie / Limit" in page
    assert "None" not in cells["td"], "a cell shows None for no value"
    for internal in ("fid", "load_id", "source_id"):
        assert internal not in cells["th"], f"the internal column {internal} is shown"
    schema = registry().schemas["roads"]
    assert schema.fields["road_class"].title.pl in cells["th"]  # "Kategoria drogi (zarządca)", not road_class
    labels = registry().codelists[schema.fields["road_class"].codelist].codes["district"]
    assert f"{labels.pl} ({labels.en})" in " ".join(cells["td"]), "the road class is shown as its code"
    assert "ul. Świętokrzyska" in cells["td"][0]


def test_item_heading_is_its_name_and_codes_are_labelled(site):
    page = _html(site, "/collections/roads/items/1")
    cells = _cells(page)
    assert cells["h1"] == ["ul. Świętokrzyska"]
    assert "Atrybut / Property" in cells["th"] and "Wartość / Value" in cells["th"]
    assert "None" not in cells["td"] and "source_id" not in cells["td"]
    assert any(c.startswith("powiatowa") or "(district)" in c for c in cells["td"]), cells["td"]


def test_landing_page_example_contact_and_map_link(site):
    page = _html(site, "/")
    assert "?city=2699011" in page and "1465011" not in page
    assert 'href="' + site + '/mapa"' in page and "Otwórz mapę" in page
    assert "config/server.yaml" in page  # the placeholder contact says where the operator sets it


def test_raster_page_has_a_legend(site):
    page = _html(site, "/collections/elevation")
    assert "Legenda / Legend" in page and "linear-gradient" in page


def test_polish_plurals():
    forms = ("gmina", "gminy", "gmin")
    assert [plural(n, *forms) for n in (1, 2, 4, 5, 11, 12, 14, 21, 22, 25, 102)] == [
        "gmina",
        "gminy",
        "gminy",
        "gmin",
        "gmin",
        "gmin",
        "gmin",
        "gmin",
        "gminy",
        "gmin",
        "gminy",
    ]


# ---- in the browser ----


class _DevTools:
    """Headless Chromium and a bare WebSocket client for its DevTools protocol (no websocket package here)."""

    def __init__(self, tmp_path, width: int, height: int):
        found = shutil.which("chromium") or shutil.which("chromium-browser")
        assert found, "chromium is not installed: run `make test-system`"
        self.port = free_port()
        self.proc = subprocess.Popen(
            [
                found,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--hide-scrollbars",
                f"--user-data-dir={tmp_path / 'profile'}",
                f"--remote-debugging-port={self.port}",
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                f"--window-size={width},{height}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(100):
            try:
                pages = requests.get(f"http://127.0.0.1:{self.port}/json/list", timeout=2).json()
                ws = next(p["webSocketDebuggerUrl"] for p in pages if p.get("type") == "page")
                break
            except (requests.RequestException, StopIteration, ValueError):
                time.sleep(0.2)
        else:
            raise AssertionError("chromium's DevTools did not answer")
        path = ws.split(str(self.port), 1)[1]
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=60)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        assert b" 101 " in head.split(b"\r\n")[0], head
        self.next_id = 0

    def _send(self, text: str) -> None:
        data, mask = text.encode(), os.urandom(4)
        size = len(data)
        header = bytes([0x81]) + (
            bytes([0x80 | size])
            if size < 126
            else bytes([0x80 | 126]) + size.to_bytes(2, "big")
            if size < 65536
            else bytes([0x80 | 127]) + size.to_bytes(8, "big")
        )
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _exact(self, n: int) -> bytes:
        got = b""
        while len(got) < n:
            got += self.sock.recv(n - len(got))
        return got

    def _receive(self) -> str:
        message = b""
        while True:
            first, second = self._exact(2)
            size = second & 0x7F
            if size == 126:
                size = int.from_bytes(self._exact(2), "big")
            elif size == 127:
                size = int.from_bytes(self._exact(8), "big")
            message += self._exact(size)
            if first & 0x80:
                return message.decode()

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        self._send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            answer = json.loads(self._receive())
            if answer.get("id") == self.next_id:
                assert "error" not in answer, answer
                return answer["result"]

    def open(self, url: str, settle: float = 4.0) -> None:
        self.call("Page.navigate", url=url)
        deadline = time.monotonic() + 60
        while self.evaluate("document.readyState") != "complete" and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(settle)  # map tiles and the preview image after the load event

    def evaluate(self, expression: str):
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def close(self) -> None:
        self.sock.close()
        self.proc.terminate()
        self.proc.wait(timeout=30)


@pytest.fixture
def phone(tmp_path):
    browser = _DevTools(tmp_path, 390, 844)
    browser.call("Emulation.setDeviceMetricsOverride", width=390, height=844, deviceScaleFactor=1, mobile=True)
    yield browser
    browser.close()


@pytest.mark.parametrize(
    "path",
    [
        "/collections/roads/items",
        "/collections/roads/items/1",
        "/",
        "/collections",
        "/collections/elevation",
        "/openapi",
    ],
)
def test_phone_width_pages_do_not_overflow(site, phone, path, tmp_path):
    phone.open(site + path, settle=1.0)
    width = phone.evaluate("Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)")
    assert width <= 390, f"{path} is {width} px wide on a 390 px phone"
    shot = base64.b64decode(phone.call("Page.captureScreenshot", format="png")["data"])
    (tmp_path / "phone.png").write_bytes(shot)
    assert len(shot) > 5000


def test_raster_overlay_is_drawn_larger_than_100_px(site, tmp_path):
    browser = _DevTools(tmp_path, 1200, 900)
    try:
        browser.open(site + "/collections/elevation", settle=6.0)
        box = browser.evaluate(
            "(() => { const i = document.querySelector('#collection-map img.leaflet-image-layer');"
            " if (!i) return null; const r = i.getBoundingClientRect();"
            " return [r.width, r.height]; })()"
        )
    finally:
        browser.close()
    assert box, "no raster overlay on the collection's map"
    assert box[0] > 100 and box[1] > 100, f"the overlay is drawn {box[0]:.0f}x{box[1]:.0f} px"


def test_descriptions_count_in_polish(site):
    page = _html(site, "/collections/roads")
    assert " z 1 gminy" in page and " z 1 gmin " not in page and " z 1 gmin." not in page
