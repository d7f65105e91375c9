"""The planner's path in real QGIS 3.22: the generated project, its styles, the city filter, PostGIS styles.

QGIS runs in its own process (tests/qgis_probe.py under Debian's /usr/bin/python3, the only Python with
the bindings), against a running `sdi serve` with six themes of two cities. `make test` installs QGIS
(python3-qgis, qgis-providers); these tests skip only where it is missing, with that reason.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import geopandas as gpd
import pytest
import requests
import yaml
from psycopg.conninfo import conninfo_to_dict
from shapely.geometry import LineString, Polygon

from sdi.core.sample import SAMPLE_CITY
from sdi.pipeline import run_load

from conftest import SDI, fresh_database, load_sample, running_api

QGIS_PYTHON = "/usr/bin/python3"
PROBE = Path(__file__).with_name("qgis_probe.py")
ROOT = Path(__file__).resolve().parent.parent
WARSAW = "1465011"


def _has_qgis() -> bool:
    if not os.path.exists(QGIS_PYTHON):
        return False
    return subprocess.run([QGIS_PYTHON, "-c", "import qgis.core"], capture_output=True).returncode == 0


pytestmark = pytest.mark.skipif(not _has_qgis(), reason="QGIS is installed by `make test` (python3-qgis)")


def probe(*args: str) -> dict:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": "/tmp"}
    out = subprocess.run([QGIS_PYTHON, str(PROBE), *args], capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def served(server_url, tmp_path_factory):
    """Six themes: the sample gmina's three, green areas and plans there, and roads of Warsaw."""
    tmp = tmp_path_factory.mktemp("qgis")
    with fresh_database(server_url) as db_url:
        settings = load_sample(tmp, db_url)
        for theme, city, frame in _more_themes():
            frame.to_file(tmp / f"{theme}_{city}.gpkg")
            run_load(tmp / f"{theme}_{city}.gpkg", city=city, theme=theme, settings=settings)
        with running_api(db_url, tmp / "home") as base:
            yield base, db_url, tmp


def _more_themes():
    def square(e, n, size=80):
        return Polygon([(e, n), (e + size, n), (e + size, n + size), (e, n + size)])

    green = gpd.GeoDataFrame(
        {"name": ["Park Miejski", "Skwer Jana Pawła II"], "green_type": ["park", "square"]},
        geometry=[square(616400, 335700), square(616900, 336300, 40)],
        crs=2180,
    )
    plans = gpd.GeoDataFrame(
        {"plan_id": ["MPZP-1", "MPZP-1", "MPZP-1"], "designation": ["MN", "U", "ZP"], "zone_id": ["1MN", "2U", "3ZP"]},
        geometry=[square(616300, 335900, 200), square(616600, 335900, 200), square(616900, 335900, 200)],
        crs=2180,
    )
    roads = gpd.GeoDataFrame(
        {"name": ["al. Jerozolimskie", "ul. Marszałkowska"], "road_class": ["national", "municipal"]},
        geometry=[LineString([(636000, 486000), (638000, 486200)]), LineString([(637000, 485000), (637100, 487000)])],
        crs=2180,
    )
    return [("green_areas", SAMPLE_CITY, green), ("land_use_plans", SAMPLE_CITY, plans), ("roads", WARSAW, roads)]


def _counts(base: str, city: str | None = None) -> dict:
    collections = requests.get(f"{base}/collections", params={"f": "json"}, timeout=10).json()["collections"]
    counts = {}
    for c in collections:
        params = {"f": "json", "limit": 10000, **({"city": city} if city else {})}
        counts[c["id"]] = len(
            requests.get(f"{base}/collections/{c['id']}/items", params=params, timeout=30).json()["features"]
        )
    return counts


def _categorised_themes() -> set:
    spec = yaml.safe_load((ROOT / "styles" / "symbology.yaml").read_text(encoding="utf-8"))
    return {theme for theme, style in spec.items() if "classify" in style}


def test_project_opens_in_qgis_with_every_theme_styled(served, tmp_path):
    base, _, _ = served
    out = tmp_path / "sdi.qgz"
    subprocess.run(
        [SDI, "qgis-project", str(out), "--url", base],
        check=True,
        capture_output=True,
        timeout=60,
        env={**os.environ, "SDI_DATABASE_URL": served[1]},
    )
    report = probe("project", str(out), str(tmp_path / "all.png"))
    expected = _counts(base)
    assert report["read"] and report["crs"] == "EPSG:2180" and len(expected) >= 5
    layers = {lid.removeprefix("sdi_layer_"): layer for lid, layer in report["layers"].items()}
    assert set(layers) == set(expected)
    for theme, layer in layers.items():
        assert layer["valid"] and layer["provider"] == "OAPIF", theme
        assert layer["count"] == expected[theme], theme
        # the style's renderer: categorised by the code list wherever the theme has one
        assert (layer["renderer"] == "categorizedSymbol") == (theme in _categorised_themes()), theme
        assert "restrictToRequestBBOX='1'" in layer["source"] and "pageSize='1000'" in layer["source"]
    assert layers["roads"]["name"] == "Drogi / Roads" and layers["roads"]["labels"]
    assert layers["land_use_plans"]["classes"] > 60  # every designation of the code list, with its colour
    assert report["groups"]["Transport"] == ["Drogi / Roads"]
    assert report["groups"]["Planowanie / Planning"] == ["Planowanie przestrzenne / Land use plans"]
    assert list(report["groups"])[0] == "Usługi publiczne / Public services"  # drawn on top


def test_city_project_shows_only_that_city_zoomed_to_it(served, tmp_path):
    base, _, _ = served
    qgz = requests.get(f"{base}/qgis-project", params={"city": SAMPLE_CITY}, timeout=60)
    assert qgz.status_code == 200 and qgz.headers["Content-Type"].startswith("application/x-qgis-project")
    out = tmp_path / f"sdi-{SAMPLE_CITY}.qgz"
    out.write_bytes(qgz.content)
    png = tmp_path / "city.png"
    report = probe("project", str(out), str(png))
    per_city = _counts(base, SAMPLE_CITY)
    for lid, layer in report["layers"].items():
        theme = lid.removeprefix("sdi_layer_")
        assert layer["subset"] == f"\"city\" = '{SAMPLE_CITY}'"
        assert layer["cities"] in ([SAMPLE_CITY], []) and layer["count"] == per_city[theme], theme
    xmin, ymin, xmax, ymax = report["view_extent"]
    assert 615_000 < xmin < xmax < 618_500 and 334_500 < ymin < ymax < 337_500  # the gmina, not Poland
    assert png.stat().st_size > 20_000  # a drawn map, not a blank image
    if os.environ.get("SDI_SCREENSHOTS"):  # `make screenshots` refreshes the README's pictures
        shutil.copy(png, ROOT / "docs" / "qgis-project-city.png")


def test_landing_page_links_the_project(served):
    base, _, _ = served
    links = requests.get(f"{base}/", params={"f": "json"}, timeout=10).json()["links"]
    assert any(link["href"].endswith("/qgis-project") for link in links)
    html = requests.get(f"{base}/", params={"f": "html"}, timeout=10).text
    assert "/qgis-project" in html and "QGIS" in html
    bad = requests.get(f"{base}/qgis-project", params={"city": "12"}, timeout=10)
    assert bad.status_code == 400 and "7-digit TERYT" in bad.text


def test_adding_the_api_by_hand_in_qgis_lists_every_collection(served, tmp_path):
    base, _, _ = served
    png = tmp_path / "dialog.png"
    report = probe("dialog", base, str(png))
    assert report["collections"] == sorted(_counts(base)) and png.stat().st_size > 10_000
    if os.environ.get("SDI_SCREENSHOTS"):
        shutil.copy(png, ROOT / "docs" / "qgis-add-oapif.png")


def test_the_project_holds_no_restricted_theme(served):
    base, _, _ = served
    with zipfile.ZipFile(io.BytesIO(requests.get(f"{base}/qgis-project", timeout=60).content)) as qgz:
        assert "utility_networks" not in qgz.read("sdi.qgs").decode()


def test_postgis_layers_get_their_style_from_layer_styles(served):
    _, db_url, _ = served
    c = conninfo_to_dict(db_url)
    uri = (
        f"host={c['host']} port={c['port']} dbname={c['dbname']} user={c['user']} password={c['password']}"
        ' key=\'fid\' table="data"."roads" (geom)'
    )
    report = probe("postgis", uri)
    assert report["valid"] and report["count"] == 11
    assert report["renderer"] == "categorizedSymbol" and report["attr"] == "road_class"


@pytest.mark.parametrize(
    "text, expected",
    [
        # The filters QGIS 3.32+ sends with filter-lang=cql2-text, written the way its compiler writes them.
        (f"(city = '{WARSAW}')", {"al. Jerozolimskie", "ul. Marszałkowska"}),
        (f"((\"road_class\" = 'national') AND (city = '{WARSAW}'))", {"al. Jerozolimskie"}),
        ("(CASEI(name) LIKE CASEI('UL. MARSZ%'))", {"ul. Marszałkowska"}),
        (f"((NOT ((\"road_class\" = 'municipal'))) AND (city = '{WARSAW}'))", {"al. Jerozolimskie"}),
    ],
)
def test_the_cql2_text_qgis_332_sends(served, text, expected):
    base, _, _ = served
    conformance = requests.get(f"{base}/conformance", params={"f": "json"}, timeout=10).json()["conformsTo"]
    needed = {
        "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
        "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
        "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
        "http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison",
    }
    assert needed <= set(conformance)
    queryables = requests.get(f"{base}/collections/roads/queryables", params={"f": "json"}, timeout=10).json()
    assert {"city", "road_class", "name"} <= set(queryables["properties"])
    r = requests.get(
        f"{base}/collections/roads/items",
        params={"f": "json", "limit": 1000, "filter-lang": "cql2-text", "filter": text},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    assert {f["properties"]["name"] for f in r.json()["features"]} == expected


def test_committed_styles_are_what_the_symbology_gives():
    # styles/build.py writes every .qml and .sld with QGIS from styles/symbology.yaml and the code lists;
    # a code added to a list, or a colour changed, without rebuilding is caught here.
    out = subprocess.run(
        [QGIS_PYTHON, str(ROOT / "styles" / "build.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": "/tmp"},
    )
    assert out.returncode == 0, out.stdout + out.stderr[-2000:]
