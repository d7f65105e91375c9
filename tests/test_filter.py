"""Filtering through the running API: CQL2-JSON (POST) and text (GET), compiled to SQL by sdi.server.cql."""

from __future__ import annotations

import json
import math

import geopandas as gpd
import pytest
import requests
from shapely.geometry import Polygon

from sdi.core.sample import SAMPLE_CITY
from sdi.pipeline import run_load

from conftest import fresh_database, load_sample, running_api

EPSG_2180 = "http://www.opengis.net/def/crs/EPSG/0/2180"


@pytest.fixture(scope="module")
def api(server_url, tmp_path_factory):
    """The sample gmina plus two plans with dates, loaded once and served for every test here."""
    tmp = tmp_path_factory.mktemp("filter")
    with fresh_database(server_url) as db_url:
        yield from _serve_sample(db_url, tmp)


def _serve_sample(db_url, tmp):
    settings = load_sample(tmp, db_url)
    square = Polygon([(640_000, 340_000), (640_100, 340_000), (640_100, 340_100), (640_000, 340_100)])
    plans = gpd.GeoDataFrame(
        {"plan_id": ["P1", "P2"], "designation": ["MN", "U"], "adopted_on": ["2020-01-15", "2024-06-01"]},
        geometry=[square, square],
        crs=2180,
    )
    plans.to_file(tmp / "plany.gpkg")
    run_load(tmp / "plany.gpkg", city=SAMPLE_CITY, theme="land_use_plans", settings=settings)
    with running_api(db_url, tmp / "home") as base:
        yield base


def _post(api, theme, cql):
    r = requests.post(
        f"{api}/collections/{theme}/items",
        params={"f": "json"},
        json=cql,
        headers={"Content-Type": "application/query-cql-json"},
        timeout=10,
    )
    return r


def _names(r, key="name"):
    assert r.status_code == 200, r.text
    return sorted(f["properties"][key] for f in r.json()["features"])


def prop(name):
    return {"property": name}


@pytest.mark.parametrize(
    "theme, cql, expected",
    [
        ("roads", {"op": "=", "args": [prop("road_class"), "district"]}, ["ul. Świętokrzyska"]),
        ("roads", {"op": "like", "args": [prop("name"), "ul. Ż%"]}, ["ul. Żeromskiego"]),
        ("roads", {"op": "in", "args": [prop("surface"), ["paving_stones"]]}, ["ul. Wąska"]),
        ("roads", {"op": "between", "args": [prop("width_m"), 3.5, 4.5]}, ["ul. Wąska"]),
        (
            "public_services",
            {"op": "isNull", "args": [prop("capacity")]},
            ["Gminna Biblioteka Publiczna", "Przychodnia Zdrowia „Pod Lipami”"],
        ),
        (
            "roads",
            {"op": "=", "args": [{"op": "casei", "args": [prop("name")]}, {"op": "casei", "args": ["UL. ŁĄKOWA"]}]},
            ["ul. Łąkowa"],
        ),
        (
            "roads",
            {
                "op": "and",
                "args": [
                    {"op": "=", "args": [prop("road_class"), "municipal"]},
                    {"op": "not", "args": [{"op": "like", "args": [prop("name"), "ul. %a"]}]},
                ],
            },
            ["ul. Kościuszki", "ul. Żeromskiego"],
        ),
    ],
)
def test_cql2_json(api, theme, cql, expected):
    assert _names(_post(api, theme, cql)) == expected


def test_spatial_filter_in_crs84(api):
    every = requests.get(f"{api}/collections/public_services/items", params={"f": "json"}, timeout=10).json()
    target = every["features"][0]
    lon, lat = target["geometry"]["coordinates"]
    box = {
        "type": "Polygon",
        "coordinates": [
            [
                [lon - 1e-4, lat - 1e-4],
                [lon + 1e-4, lat - 1e-4],
                [lon + 1e-4, lat + 1e-4],
                [lon - 1e-4, lat + 1e-4],
                [lon - 1e-4, lat - 1e-4],
            ]
        ],
    }
    r = _post(api, "public_services", {"op": "s_intersects", "args": [prop("geometry"), box]})
    assert _names(r) == [target["properties"]["name"]]


def test_temporal_filter_on_a_date_field(api):
    r = _post(api, "land_use_plans", {"op": "t_after", "args": [prop("adopted_on"), {"date": "2022-01-01"}]})
    assert _names(r, "plan_id") == ["P2"]


def test_text_filter_on_get_keeps_working_with_paging(api):
    r = requests.get(
        f"{api}/collections/roads/items",
        params={"f": "json", "filter": "road_class = 'municipal'", "limit": 3},
        timeout=10,
    )
    body = r.json()
    assert r.status_code == 200 and body["numberMatched"] == 8 and len(body["features"]) == 3
    assert all(f["properties"]["road_class"] == "municipal" for f in body["features"])


@pytest.mark.parametrize(
    "cql, message",
    [
        ({"op": "=", "args": [prop("nazwa"), "x"]}, "unknown property 'nazwa'"),
        ({"op": "frobnicate", "args": []}, "cannot parse the filter as cql2-json"),
    ],
)
def test_bad_filters_are_400_with_a_message(api, cql, message):
    r = _post(api, "roads", cql)
    assert r.status_code == 400 and message in r.text


def test_spatial_filter_with_filter_crs_in_puwg1992(api):
    crs = "http://www.opengis.net/def/crs/EPSG/0/2180"
    every = requests.get(
        f"{api}/collections/public_services/items", params={"f": "json", "crs": crs}, timeout=10
    ).json()
    target = every["features"][1]
    n, e = target["geometry"]["coordinates"]  # EPSG:2180 is northing first, in the filter as in the output
    box = {
        "type": "Polygon",
        "coordinates": [[[n - 5, e - 5], [n + 5, e - 5], [n + 5, e + 5], [n - 5, e + 5], [n - 5, e - 5]]],
    }
    r = requests.post(
        f"{api}/collections/public_services/items",
        params={"f": "json", "filter-crs": crs},
        json={"op": "s_intersects", "args": [prop("geometry"), box]},
        headers={"Content-Type": "application/query-cql-json"},
        timeout=10,
    )
    assert _names(r) == [target["properties"]["name"]]


def _get(api, theme, text, **params):
    return requests.get(
        f"{api}/collections/{theme}/items",
        params={"f": "json", "filter": text, "filter-lang": "cql2-text", **params},
        timeout=10,
    )


@pytest.mark.parametrize(
    "theme, text, expected",
    [
        ("roads", "road_class = 'municipal' AND name LIKE 'ul. Ł%'", ["ul. Łąkowa"]),
        ("roads", "CASEI(name) = CASEI('UL. ŻEROMSKIEGO')", ["ul. Żeromskiego"]),
        ("roads", "ACCENTI(name) = ACCENTI('ul. Zrodlana')", ["ul. Źródlana"]),
        ("roads", "surface IN ('paving_stones') OR width_m > 6", ["ul. Wąska", "ul. Świętokrzyska"]),
        ("public_services", "capacity IS NULL AND name LIKE '%Biblioteka%'", ["Gminna Biblioteka Publiczna"]),
    ],
)
def test_cql2_text_on_get(api, theme, text, expected):
    assert _names(_get(api, theme, text)) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("T_AFTER(adopted_on, DATE('2022-01-01'))", ["P2"]),
        ("T_BEFORE(adopted_on, TIMESTAMP('2022-01-01T00:00:00Z'))", ["P1"]),
        ("T_DURING(adopted_on, INTERVAL('2019-01-01', '2021-01-01'))", ["P1"]),
        ("T_DURING(adopted_on, INTERVAL('2021-01-01', '..')) AND plan_id <> 'P1'", ["P2"]),
        ("t_equals(adopted_on, DATE('2020-01-15'))", ["P1"]),
    ],
)
def test_cql2_text_temporal_functions_on_get(api, text, expected):
    assert _names(_get(api, "land_use_plans", text), "plan_id") == expected


def test_cql2_text_paging_keeps_the_filter_in_its_links(api):
    first = _get(api, "roads", "road_class = 'municipal'", limit=3).json()
    assert len(first["features"]) == 3 and "x-sdi" not in json.dumps(first)
    following = next(link["href"] for link in first["links"] if link["rel"] == "next")
    assert "filter-lang=cql2-text" in following and "filter=" in following
    second = requests.get(following, timeout=10).json()
    assert second["features"] and all(f["properties"]["road_class"] == "municipal" for f in second["features"])
    assert not {f["id"] for f in first["features"]} & {f["id"] for f in second["features"]}


@pytest.mark.parametrize(
    "text, params, message",
    [
        ("road_class = = 'x'", {}, "cannot parse the filter as cql2-text"),
        ("nazwa = 'x'", {}, "unknown property 'nazwa'"),
        (
            "S_INTERSECTS(geometry, POINT(1 2))",
            {"filter-crs": "http://www.opengis.net/def/crs/EPSG/0/99999"},
            "unknown filter-crs",
        ),
    ],
)
def test_bad_cql2_text_is_a_400_with_a_message(api, text, params, message):
    r = _get(api, "roads", text, **params)
    assert r.status_code == 400 and message in r.text


def test_cql2_text_spatial_with_bbox_and_polygon(api):
    every = requests.get(f"{api}/collections/public_services/items", params={"f": "json"}, timeout=10).json()
    target = every["features"][2]
    lon, lat = target["geometry"]["coordinates"]
    d = 1e-4
    within = _get(api, "public_services", f"S_WITHIN(geometry, BBOX({lon - d}, {lat - d}, {lon + d}, {lat + d}))")
    assert _names(within) == [target["properties"]["name"]]
    polygon = (
        f"POLYGON(({lon - d} {lat - d}, {lon + d} {lat - d}, {lon + d} {lat + d}, {lon - d} {lat + d},"
        f" {lon - d} {lat - d}))"
    )
    assert _names(_get(api, "public_services", f"S_INTERSECTS(geometry, {polygon})")) == [target["properties"]["name"]]


def _distances(api):
    """Each public service's name and position in EPSG:2180 (northing, easting), and the distances to the first."""
    every = requests.get(
        f"{api}/collections/public_services/items", params={"f": "json", "crs": EPSG_2180}, timeout=10
    ).json()["features"]
    (n0, e0) = every[0]["geometry"]["coordinates"]
    return (n0, e0), {f["properties"]["name"]: math.dist((n0, e0), f["geometry"]["coordinates"]) for f in every}


def _within(distances: dict, metres: float) -> list:
    return sorted(name for name, d in distances.items() if d <= metres)


def test_s_dwithin_in_cql2_text_with_filter_crs(api):
    (n, e), distances = _distances(api)
    metres = sorted(distances.values())[2] + 1  # the three nearest, the first included
    r = _get(
        api, "public_services", f"S_DWITHIN(geometry, POINT({n} {e}), {metres}, meters)", **{"filter-crs": EPSG_2180}
    )
    assert sorted(_names(r)) == _within(distances, metres) and len(_within(distances, metres)) == 3
    km = _get(
        api,
        "public_services",
        f"S_DWITHIN(geometry, POINT({n} {e}), {metres / 1000}, kilometers)",
        **{"filter-crs": EPSG_2180},
    )
    assert sorted(_names(km)) == _within(distances, metres)


def test_s_dwithin_in_cql2_json_by_get_and_post(api):
    (n, e), distances = _distances(api)
    cql = {"op": "s_dwithin", "args": [prop("geometry"), {"type": "Point", "coordinates": [n, e]}, 1.0, "meters"]}
    by_get = _get(api, "public_services", json.dumps(cql), **{"filter-lang": "cql2-json", "filter-crs": EPSG_2180})
    by_post = requests.post(
        f"{api}/collections/public_services/items",
        params={"f": "json", "filter-crs": EPSG_2180},
        json=cql,
        headers={"Content-Type": "application/query-cql-json"},
        timeout=10,
    )
    assert _names(by_get) == _names(by_post) == _within(distances, 1.0)


def test_s_dwithin_with_unknown_units_is_a_400(api):
    r = _get(api, "public_services", "S_DWITHIN(geometry, POINT(19 50), 1, furlongs)")
    assert r.status_code == 400 and "unknown distance units 'furlongs'" in r.text


def test_post_without_content_type_is_a_400(api):
    r = requests.post(f"{api}/collections/roads/items", timeout=10)
    assert r.status_code == 400 and "Content-Type: application/query-cql-json" in r.text


@pytest.mark.parametrize(
    "path, status",
    [
        ("collections/roads/items?sortby=", 400),
        ("collections/roads/items?limit=true", 400),
        ("collections/roads/items?offset=7517353684279721197568", 400),
        ("collections/roads/items?name=a%00b", 400),
        ("collections/roads/tiles/WebMercatorQuad/0/0/null%2Cnull?f=mvt", 404),
    ],
)
def test_requests_schemathesis_found_answer_4xx_not_500(api, path, status):
    assert requests.get(f"{api}/{path}", timeout=10).status_code == status
