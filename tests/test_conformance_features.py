"""OGC API Features Part 1 (17-069r4, Annex A) and Part 2 (18-058r1, Annex A): one test per abstract test.

Each test is named after its abstract test (/conf/core/fc-bbox-response -> test_ats_core_fc_bbox_response)
and reads the API over HTTP as any client would. One server for the whole module.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess

import pytest
import requests
from conformance_common import CRS84, DIAGONAL, EPSG, JSON, get, items, served_sample
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import Transformer
from shapely.geometry import box, shape
from shapely.ops import transform as shapely_transform

THEMES = ("roads", "buildings", "public_services", "land_use_plans")


@pytest.fixture(scope="module")
def api(server_url, tmp_path_factory):
    with served_sample(server_url, tmp_path_factory.mktemp("conf_features")) as base:
        yield base


@pytest.fixture(scope="module")
def openapi(api) -> dict:
    r = get(api, "openapi", f="json")
    assert r.status_code == 200
    return r.json()


def _rels(doc: dict) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for link in doc["links"]:
        found.setdefault(link["rel"], []).append(link)
    return found


def _param_names(openapi: dict, path: str) -> set[str]:
    components = openapi["components"]["parameters"]
    return {
        components[p["$ref"].rsplit("/", 1)[1]]["name"] if "$ref" in p else p["name"]
        for p in openapi["paths"][path]["get"]["parameters"]
    }


# -- /conf/core ------------------------------------------------------------------------------------
def test_ats_core_http(api):
    r = requests.get(api, headers=JSON, timeout=10)
    assert r.raw.version == 11 and r.status_code == 200


def test_ats_core_root_op(api):
    assert get(api, "/").status_code == 200


def test_ats_core_root_success(api):
    rels = _rels(get(api, "/").json())
    assert {"service-desc", "conformance", "data"} <= set(rels)
    assert any(link["href"].rstrip("/").endswith("/collections") for link in rels["data"])


def test_ats_core_api_definition_op(api):
    href = _rels(get(api, "/").json())["service-desc"][0]["href"]
    assert requests.get(href, params={"f": "json"}, timeout=30).status_code == 200


def test_ats_core_api_definition_success(openapi):
    assert openapi["openapi"].startswith("3.0") and "/collections/roads/items" in openapi["paths"]


def test_ats_core_conformance_op(api):
    assert get(api, "conformance").status_code == 200


def test_ats_core_conformance_success(api):
    classes = get(api, "conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in classes
    # only what tests/test_conformance_* prove: no OGC API Common or Part 5 class claimed without tests
    assert not any("ogcapi-common" in c or "features-5" in c or "features-4" in c for c in classes)


def test_ats_core_crs84(api):
    for f in items(api, "public_services")["features"]:
        lon, lat = f["geometry"]["coordinates"]
        assert 14 < lon < 25 and 49 < lat < 55  # lon/lat, not lat/lon


def test_ats_core_fc_md_op(api):
    assert get(api, "collections").status_code == 200


def test_ats_core_fc_md_success(api):
    doc = get(api, "collections").json()
    assert "self" in _rels(doc) and {c["id"] for c in doc["collections"]} >= set(THEMES)


def test_ats_core_fc_md_links(api):
    assert all(link["href"].startswith("http") for link in get(api, "collections").json()["links"])


def test_ats_core_fc_md_items(api):
    for c in get(api, "collections").json()["collections"]:
        assert c["id"] and c["links"] and c.get("itemType", "feature") in ("feature", "coverage")


def test_ats_core_fc_md_items_links(api):
    for c in get(api, "collections").json()["collections"]:
        assert any(
            link["rel"] == "items" and link["href"].split("?")[0].endswith(f"/collections/{c['id']}/items")
            for link in c["links"]
        )


def test_ats_core_fc_md_extent(api):
    for c in get(api, "collections").json()["collections"]:
        west, south, east, north = c["extent"]["spatial"]["bbox"][0]
        assert 14 <= west <= east <= 25 and 49 <= south <= north <= 55


def test_ats_core_sfc_md_op(api):
    for theme in THEMES:
        assert get(api, f"collections/{theme}").status_code == 200
    assert get(api, "collections/nonexistent").status_code == 404


def test_ats_core_sfc_md_success(api):
    listed = {c["id"]: c for c in get(api, "collections").json()["collections"]}
    one = get(api, "collections/roads").json()
    assert one["id"] == "roads" and one["extent"] == listed["roads"]["extent"]


def test_ats_core_fc_op(api):
    r = get(api, "collections/roads/items")
    assert r.status_code == 200 and r.json()["type"] == "FeatureCollection"


def test_ats_core_fc_limit_definition(openapi):
    limit = next(
        p for p in openapi["paths"]["/collections/roads/items"]["get"]["parameters"] if p.get("name") == "limit"
    )
    assert limit["schema"]["type"] == "integer" and limit["schema"]["minimum"] == 1


def test_ats_core_fc_limit_response(api):
    doc = get(api, "collections/roads/items", limit=3).json()
    assert doc["numberReturned"] == len(doc["features"]) == 3
    assert get(api, "collections/roads/items", limit=0).status_code == 400


def test_ats_core_fc_bbox_definition(openapi):
    bbox = next(p for p in openapi["components"]["parameters"].values() if p.get("name") == "bbox")
    assert bbox["schema"]["minItems"] == 4 and bbox["schema"]["maxItems"] == 6
    assert "bbox" in _param_names(openapi, "/collections/roads/items")


def test_ats_core_fc_bbox_response(api):
    everything = items(api, "roads")["features"]
    # a box larger than the world, and one with heights: every road
    assert items(api, "roads", bbox="-180,-90,180,90")["numberMatched"] == len(everything)
    assert items(api, "roads", bbox="-180,-90,-100,180,90,100")["numberMatched"] == len(everything)
    # a small box: exactly the roads whose geometry (not envelope) meets it
    line = shape(everything[0]["geometry"])
    x, y = line.representative_point().coords[0]
    small = box(x - 0.0005, y - 0.0005, x + 0.0005, y + 0.0005)
    want = {f["id"] for f in everything if shape(f["geometry"]).intersects(small)}
    got = {f["id"] for f in items(api, "roads", bbox=",".join(map(str, small.bounds)))["features"]}
    assert got == want and everything[0]["id"] in got
    # a box crossing the antimeridian holds no Polish road; one from 100°E across to 30°E holds them all
    assert items(api, "roads", bbox="170,-90,-170,90")["numberMatched"] == 0
    assert items(api, "roads", bbox="100,-90,30,90")["numberMatched"] == len(everything)


def test_ats_core_fc_time_definition(openapi):
    assert "datetime" in _param_names(openapi, "/collections/roads/items")


def test_ats_core_fc_time_response(api):
    for value in (
        "2024-01-01",
        "2024-01-01T00:00:00Z",
        "2020-01-01T00:00:00Z/..",
        "../2030-01-01",
        "2020-01-01/2030-01-01",
    ):
        assert get(api, "collections/land_use_plans/items", datetime=value).status_code == 200, value


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "abc"},
        {"limit": "-1"},
        {"offset": "x"},
        {"bbox": "1,2,3"},
        {"bbox": "0,95,10,96"},
        {"bbox": "a,b,c,d"},
        {"bbox": "0,60,10,50"},
        {"datetime": "notadate"},
        {"datetime": "2024-13-01"},
        {"datetime": "2030-01-01/2020-01-01"},
        {"filter-lang": "foo", "filter": "fid = 1"},
        {"floors": "abc"},
        {"crs": "http://www.opengis.net/def/crs/EPSG/0/99999"},
        {"bbox-crs": EPSG.format(2180)},
        {"skipGeometry": "maybe"},
        {"resulttype": "all"},
        {"status": "not-a-code"},
    ],
)
def test_ats_core_query_param_invalid(api, params):
    r = get(api, "collections/buildings/items", **params)
    assert r.status_code == 400 and r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert body["status"] == 400 and body["title"] and body["detail"] and body["type"]


@pytest.mark.parametrize("path", ["collections/roads/items", "collections/roads/items/1"])
def test_ats_core_query_param_unknown(api, path):
    r = get(api, path, foo="bar")
    assert r.status_code == 400 and "unknown query parameter 'foo'" in r.json()["detail"]
    # every parameter the server takes is declared, and accepted
    assert get(api, path, lang="en", access_token="x", f="json").status_code == 200


def test_ats_core_fc_response(api):
    doc = get(api, "collections/roads/items", limit=2).json()
    rels = _rels(doc)
    assert doc["type"] == "FeatureCollection" and "self" in rels and "alternate" in rels
    assert dt.datetime.fromisoformat(doc["timeStamp"])
    assert doc["numberMatched"] >= doc["numberReturned"] == 2


def test_ats_core_fc_links(api):
    total = items(api, "roads")["numberMatched"]
    seen, href = [], f"{api}/collections/roads/items?limit=4&f=json"
    while href:
        page = requests.get(href, timeout=10).json()
        seen += [f["id"] for f in page["features"]]
        nxt = [link for link in page["links"] if link["rel"] == "next"]
        assert all("f=json" in link["href"] and link["type"] == "application/geo+json" for link in nxt)
        href = nxt[0]["href"] if nxt else None
    assert len(seen) == len(set(seen)) == total  # no next link on the last page, nothing lost
    last = get(api, "collections/roads/items", limit=total).json()
    assert "next" not in _rels(last)


def test_ats_core_f_op(api):
    assert get(api, "collections/roads/items/1").status_code == 200
    assert get(api, "collections/roads/items/999999").status_code == 404


def test_ats_core_f_success(api):
    r = get(api, "collections/roads/items/1")
    doc = r.json()
    assert doc["type"] == "Feature" and str(doc["id"]) == "1" and {"self", "collection"} <= set(_rels(doc))


# -- /conf/geojson -----------------------------------------------------------------------------------
def test_ats_geojson_definition(api, openapi):
    content = openapi["components"]["responses"]["Features"]["content"]
    assert "application/geo+json" in content
    r = requests.get(f"{api}/collections/roads/items", headers={"Accept": "application/geo+json"}, timeout=10)
    assert r.headers["Content-Type"].startswith("application/geo+json")


def test_ats_geojson_content(api):
    for path in ("collections/roads/items", "collections/roads/items/1"):
        r = get(api, path, crs=EPSG.format(2180))
        assert r.headers["Content-Type"].startswith("application/geo+json")
        features = r.json().get("features") or [r.json()]
        assert all("crs" not in f["geometry"] and f["geometry"]["type"] for f in features)  # RFC 7946: no "crs"


# -- /conf/html --------------------------------------------------------------------------------------
def test_ats_html_definition(api):
    r = requests.get(f"{api}/collections/roads/items", headers={"Accept": "text/html"}, timeout=10)
    assert r.headers["Content-Type"].startswith("text/html")


def test_ats_html_content(api):
    for path in ("collections/roads", "collections/roads/items", "collections/roads/items/2"):
        page = requests.get(f"{api}/{path}", params={"f": "html"}, timeout=10).text
        assert page.lstrip().lower().startswith("<!doctype html") and "Drogi" in page, path


# -- /conf/oas30 -------------------------------------------------------------------------------------
def test_ats_oas30_completeness(openapi):
    for theme in THEMES:
        for path in (
            "",
            "/items",
            "/items/{featureId}",
            "/queryables",
            "/tiles",
            "/tiles/{tileMatrixSetId}",
            "/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}",
        ):
            assert f"/collections/{theme}{path}" in openapi["paths"], path
    names = _param_names(openapi, "/collections/buildings/items")
    assert {
        "filter",
        "filter-lang",
        "filter-crs",
        "datetime",
        "after",
        "access_token",
        "lang",
        "crs",
        "bbox-crs",
        "city",
        "floors",
    } <= names


def test_ats_oas30_exceptions_codes(api, openapi):
    responses = openapi["paths"]["/collections/roads/items"]["get"]["responses"]
    assert {"200", "400", "404", "500"} <= set(responses)
    for path in (
        "collections/nope",
        "collections/roads/items/0",
        "collections/roads/tiles/WorldCRS84Quad",
        "collections/roads/tiles/WebMercatorQuad/99/0/0",
    ):
        r = get(api, path)
        assert r.status_code == 404 and r.json()["status"] == 404, path


def test_ats_oas30_oas_definition_1(api):
    r = requests.get(
        f"{api}/openapi",
        headers={"Accept": "application/vnd.oai.openapi+json;version=3.0"},
        params={"f": "json"},
        timeout=30,
    )
    assert r.status_code == 200 and r.json()["openapi"].startswith("3.0")


def test_ats_oas30_oas_definition_2(openapi):
    from pygeoapi.openapi import validate_openapi_document

    from sdi.server.openapi import external_refs

    assert validate_openapi_document(openapi) is True and external_refs(openapi) == []


def test_ats_oas30_oas_impl(api, openapi):
    # every query parameter the document declares for items is one the server takes
    for name in _param_names(openapi, "/collections/roads/items") - {"bbox", "bbox-crs", "filter-crs", "crs"}:
        value = {
            "limit": "2",
            "offset": "0",
            "sortby": "name",
            "properties": "name",
            "skipGeometry": "true",
            "datetime": "2024-01-01",
            "after": "0",
            "filter": "fid > 0",
            "filter-lang": "cql2-text",
            "resulttype": "hits",
            "f": "json",
            "lang": "pl",
            "access_token": "x",
            "width_m": "5.5",
            "lanes": "2",
            "fid": "1",
            "carriageways": "1",
        }.get(name, "x")
        r = get(api, "collections/roads/items", **{name: value})
        assert r.status_code < 500 and "unknown query parameter" not in r.text, name


# -- /conf/crs (Part 2) --------------------------------------------------------------------------------
def test_ats_crs_fc_md_crs_list(api):
    for c in get(api, "collections").json()["collections"]:
        assert CRS84 in c["crs"] and EPSG.format(2180) in c["crs"]


def test_ats_crs_fc_md_storagecrs(api):
    c = get(api, "collections/roads").json()
    assert c["storageCrs"] == EPSG.format(2180) and c["storageCrs"] in c["crs"]
    assert "storageCrsCoordinateEpoch" not in c  # EPSG:2180 is not a dynamic CRS


def test_ats_crs_fc_bbox_crs_definition(openapi):
    assert "bbox-crs" in _param_names(openapi, "/collections/roads/items")


@pytest.mark.parametrize("code", [4326, 2180, 2176, 2177, 2178, 2179])
def test_ats_crs_fc_bbox_crs_action(api, code):
    everything = items(api, "public_services")["features"]
    target = everything[2]
    lon, lat = target["geometry"]["coordinates"]
    from pyproj import Transformer

    x, y = Transformer.from_crs("OGC:CRS84", f"EPSG:{code}", always_xy=True).transform(lon, lat)
    d = 0.00005 if code == 4326 else 5
    # the CRS's own axis order: lat/lon for 4326, northing/easting for the Polish grids
    found = items(api, "public_services", bbox=f"{y - d},{x - d},{y + d},{x + d}", **{"bbox-crs": EPSG.format(code)})
    assert [f["id"] for f in found["features"]] == [target["id"]]


def test_ats_crs_fc_bbox_crs_invalid_value(api):
    r = get(api, "collections/roads/items", bbox="1,2,3,4", **{"bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/3"})
    assert r.status_code == 400


def test_ats_crs_fc_crs_definition(openapi):
    assert "crs" in _param_names(openapi, "/collections/roads/items")
    assert "crs" in _param_names(openapi, "/collections/roads/items/{featureId}")


@pytest.mark.parametrize("code", [4326, 2180, 3857])
def test_ats_crs_fc_crs_action(api, code):
    plain = get(api, "collections/public_services/items/1").json()["geometry"]["coordinates"]
    r = get(api, "collections/public_services/items/1", crs=EPSG.format(code))
    a, b = r.json()["geometry"]["coordinates"]
    if code == 4326:
        assert (a, b) == pytest.approx((plain[1], plain[0]))  # lat, lon
    elif code == 2180:
        assert 200_000 < a < 800_000 and 100_000 < b < 900_000  # northing, easting
    else:
        assert 2_000_000 < a < 2_800_000  # Web Mercator easting
    assert r.headers["Content-Crs"] == f"<{EPSG.format(code)}>"


def test_ats_crs_fc_crs_invalid_value(api):
    assert get(api, "collections/roads/items", crs="http://www.opengis.net/def/crs/EPSG/0/3").status_code == 400


def test_ats_crs_ogc_crs_header(api):
    assert get(api, "collections/roads/items").headers["Content-Crs"] == f"<{CRS84}>"


# -- bbox against shapely/pyproj on the same data (hypothesis) -------------------------------------------
BOX_CRS = [CRS84, *(EPSG.format(c) for c in (4326, 2180, 2176, 2177, 2178, 2179))]
FEATURE_THEMES = ("roads", "buildings", "public_services")


@pytest.fixture(scope="module")
def shapes(api) -> dict[str, list[tuple[int, object]]]:
    return {t: [(f["id"], shape(f["geometry"])) for f in items(api, t)["features"]] for t in FEATURE_THEMES}


def _transformer(uri: str):
    from pyproj import Transformer

    target = "OGC:CRS84" if uri == CRS84 else uri.rsplit("/", 1)[1].join(("EPSG:", ""))
    return Transformer.from_crs("OGC:CRS84", target, always_xy=True)


@st.composite
def _boxes(draw, shapes):
    """(theme, bbox-crs, x1, y1, x2, y2 in x-first order, tolerance): near the data, inside a feature's
    envelope (touching only envelopes), or anywhere up to larger than Poland."""
    theme, uri = draw(st.sampled_from(FEATURE_THEMES)), draw(st.sampled_from(BOX_CRS))
    mode = draw(st.sampled_from(["data", "envelope", "huge"]))
    _, geom = draw(st.sampled_from(shapes[theme]))
    w, s, e, n = geom.bounds
    lon, lat = (
        (draw(st.floats(w, e)), draw(st.floats(s, n)))
        if mode != "huge"
        else (draw(st.floats(14, 24.2)), draw(st.floats(49, 54.9)))
    )
    metres = draw(
        st.floats(1, 30) if mode == "envelope" else st.floats(1, 2_000_000) if mode == "huge" else st.floats(1, 3000)
    )
    cx, cy = _transformer(uri).transform(lon, lat)
    geographic = uri in (CRS84, EPSG.format(4326))
    half = metres / 111_000 if geographic else metres
    x1, y1, x2, y2 = cx - half, cy - half * draw(st.floats(0.3, 1)), cx + half * draw(st.floats(0.3, 1)), cy + half
    if geographic:
        x1, x2, y1, y2 = max(x1, -180), min(x2, 180), max(y1, -90), min(y2, 90)
    return theme, uri, (x1, y1, x2, y2), max(1e-5 if geographic else 1.0, 2 * half * 1e-3)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(data=st.data())
def test_bbox_in_every_crs_agrees_with_shapely_and_pyproj(api, shapes, data):
    theme, uri, (x1, y1, x2, y2), tolerance = data.draw(_boxes(shapes))
    window = box(x1, y1, x2, y2)
    transform = _transformer(uri).transform
    inside, unsure = set(), set()
    for fid, geom in shapes[theme]:
        there = shapely_transform(transform, geom)
        if there.intersects(window.exterior) or there.distance(window.exterior) < tolerance:
            unsure.add(fid)  # on the edge, within the precision of the output and of densified edges
        elif there.intersects(window):
            inside.add(fid)
    north_first = uri != CRS84
    numbers = (y1, x1, y2, x2) if north_first else (x1, y1, x2, y2)
    r = get(
        api,
        f"collections/{theme}/items",
        bbox=",".join(repr(v) for v in numbers),
        limit=10000,
        **({"bbox-crs": uri} if uri != CRS84 else {}),
    )
    assert r.status_code == 200, r.text
    got = {f["id"] for f in r.json()["features"]}
    assert got - unsure == inside, (theme, uri, numbers)


@pytest.mark.parametrize("uri", [CRS84, EPSG.format(4326), EPSG.format(2180), EPSG.format(2178)])
def test_a_box_touching_only_a_roads_envelope_does_not_return_it(api, uri):
    # 200 m near the lower right corner of the diagonal's envelope, over 5 km from the road itself
    _, y1, x2, _ = DIAGONAL
    corner = box(x2 - 2_300, y1 + 100, x2 - 2_100, y1 + 300)
    there = shapely_transform(
        Transformer.from_crs(
            "EPSG:2180", "OGC:CRS84" if uri == CRS84 else "EPSG:" + uri.rsplit("/", 1)[1], always_xy=True
        ).transform,
        corner,
    )
    w, s, e, n = there.bounds
    numbers = (w, s, e, n) if uri == CRS84 else (s, w, n, e)  # the CRS's own axis order
    params = {"bbox": ",".join(map(repr, numbers)), **({"bbox-crs": uri} if uri != CRS84 else {})}
    found = items(api, "roads", **params)["features"]
    assert "ul. Ukośna" not in {f["properties"]["name"] for f in found}
    # and a box on the road itself finds it
    on = shapely_transform(
        Transformer.from_crs("EPSG:2180", "OGC:CRS84", always_xy=True).transform,
        box(634_900, 484_900, 635_100, 485_100),
    )
    names = {f["properties"]["name"] for f in items(api, "roads", bbox=",".join(map(repr, on.bounds)))["features"]}
    assert names == {"ul. Ukośna"}


@pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="gdal-bin is installed by `make setup`")
@pytest.mark.parametrize("theme", FEATURE_THEMES)
def test_ogrinfo_spat_with_a_box_larger_than_the_data_counts_every_feature(api, shapes, theme):
    out = subprocess.run(
        ["ogrinfo", "-so", "-al", "-spat", "0", "40", "40", "60", f"OAPIF:{api}/collections/{theme}"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    assert f"Feature Count: {len(shapes[theme])}" in out
