"""OGC API Features Part 3 (19-079r2, Annex A) and CQL2 (21-065r2, Annex A), one test per abstract test, plus
a CQL2 fuzz: random well-typed filters must agree with a pure-Python evaluation of the same expression,
ill-typed ones must get a 400, and nothing may get a 5xx. One server for the whole module.
"""

from __future__ import annotations

import json

import pytest
import requests
from conformance_common import EPSG, get, items, served_sample
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import box, mapping, shape

CQL_JSON = {"Content-Type": "application/query-cql-json"}
Q = "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/"
C = "http://www.opengis.net/spec/cql2/1.0/conf/"


@pytest.fixture(scope="module")
def api(server_url, tmp_path_factory):
    with served_sample(server_url, tmp_path_factory.mktemp("conf_filter")) as base:
        yield base


@pytest.fixture(scope="module")
def data(api) -> dict[str, list[dict]]:
    return {theme: items(api, theme)["features"] for theme in ("roads", "buildings", "public_services")}


def _text(api, theme, text, **params):
    return get(api, f"collections/{theme}/items", filter=text, limit=10000, **params)


def _post(api, theme, cql, **params):
    return requests.post(
        f"{api}/collections/{theme}/items",
        params={"f": "json", "limit": 10000, **params},
        data=json.dumps(cql),
        headers=CQL_JSON,
        timeout=30,
    )


def _ids(r) -> set:
    assert r.status_code == 200, r.text
    return {f["id"] for f in r.json()["features"]}


def _where(data, theme, test) -> set:
    return {f["id"] for f in data[theme] if test(f["properties"])}


# -- /conf/queryables and /conf/queryables-query-parameters ------------------------------------------
def test_ats_queryables_get_queryables_uris(api):
    links = get(api, "collections/roads").json()["links"]
    assert any(link["rel"] == "http://www.opengis.net/def/rel/ogc/1.0/queryables" for link in links)


def test_ats_queryables_get_queryables(api):
    r = get(api, "collections/roads/queryables")
    doc = r.json()
    assert r.status_code == 200 and doc["type"] == "object" and doc["$id"] and doc["$schema"]
    assert doc["properties"]["width_m"]["type"] == "number" and "geometry" in doc["properties"]


def test_ats_queryables_query_parameters_parameters(api):
    doc = get(api, "openapi", f="json").json()
    declared = {p.get("name") for p in doc["paths"]["/collections/roads/items"]["get"]["parameters"]}
    queryables = set(get(api, "collections/roads/queryables").json()["properties"]) - {"geometry"}
    assert queryables <= declared


def test_ats_queryables_query_parameters_response(api, data):
    r = get(api, "collections/roads/items", road_class="municipal", limit=1000)
    assert _ids(r) == _where(data, "roads", lambda p: p["road_class"] == "municipal") != set()
    assert get(api, "collections/roads/items", width_m="wide").status_code == 400


# -- /conf/filter and /conf/features-filter ----------------------------------------------------------------
def test_ats_filter_get_conformance(api):
    classes = get(api, "conformance").json()["conformsTo"]
    assert {Q + "filter", Q + "features-filter", C + "basic-cql2", C + "cql2-text", C + "cql2-json"} <= set(classes)


def test_ats_filter_filter_param(api, data):
    assert _ids(_text(api, "roads", "width_m > 6")) == _where(data, "roads", lambda p: (p["width_m"] or 0) > 6)


def test_ats_filter_filter_lang_default(api, data):
    # no filter-lang: CQL2 text
    assert _ids(_text(api, "roads", "lanes IS NULL")) == _where(data, "roads", lambda p: p["lanes"] is None)


def test_ats_filter_filter_lang_param(api, data):
    cql = {"op": "=", "args": [{"property": "road_class"}, "municipal"]}
    want = _where(data, "roads", lambda p: p["road_class"] == "municipal")
    assert _ids(_text(api, "roads", json.dumps(cql), **{"filter-lang": "cql2-json"})) == want
    assert _ids(_text(api, "roads", "road_class = 'municipal'", **{"filter-lang": "cql2-text"})) == want
    assert _text(api, "roads", "road_class = 'municipal'", **{"filter-lang": "sql"}).status_code == 400


def test_ats_filter_filter_crs_param(api, data):
    target = data["public_services"][1]
    every = get(api, "collections/public_services/items", crs=EPSG.format(2180), limit=1000).json()["features"]
    n, e = next(f for f in every if f["id"] == target["id"])["geometry"]["coordinates"]
    text = (
        f"S_INTERSECTS(geometry, POLYGON(({n - 5} {e - 5}, {n + 5} {e - 5}, {n + 5} {e + 5}, {n - 5} {e + 5},"
        f" {n - 5} {e - 5})))"
    )
    assert _ids(_text(api, "public_services", text, **{"filter-crs": EPSG.format(2180)})) == {target["id"]}
    assert _text(api, "public_services", text, **{"filter-crs": "urn:nothing"}).status_code == 400


def test_ats_features_filter_filter_param(api, data):
    r = _post(api, "buildings", {"op": ">", "args": [{"property": "floors"}, 3]})
    assert _ids(r) == _where(data, "buildings", lambda p: (p["floors"] or 0) > 3)


def test_ats_features_filter_response(api, data):
    # the filter and the other parameters all apply: bbox, a queryable parameter, limit
    everything = box(-180, -90, 180, 90).bounds
    r = _text(api, "roads", "width_m >= 4", bbox=",".join(map(str, everything)), road_class="municipal")
    assert _ids(r) == _where(data, "roads", lambda p: (p["width_m"] or 0) >= 4 and p["road_class"] == "municipal")


# -- CQL2 conformance classes ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, test",
    [
        ("road_class = 'municipal'", lambda p: p["road_class"] == "municipal"),
        ("road_class <> 'municipal'", lambda p: p["road_class"] not in (None, "municipal")),
        ("width_m < 5", lambda p: p["width_m"] is not None and p["width_m"] < 5),
        (
            "width_m <= 5.5 AND NOT (road_class = 'district')",
            lambda p: p["width_m"] is not None and p["width_m"] <= 5.5 and p["road_class"] not in (None, "district"),
        ),
        ("lanes IS NULL OR width_m > 6", lambda p: p["lanes"] is None or (p["width_m"] or 0) > 6),
        ("is_street IS NOT NULL", lambda p: p["is_street"] is not None),
    ],
)
def test_ats_basic_cql2_comparison_and_logic(api, data, text, test):
    assert _ids(_text(api, "roads", text)) == _where(data, "roads", test)


@pytest.mark.parametrize(
    "text, test",
    [
        ("name LIKE 'ul. Ż%'", lambda p: (p["name"] or "").startswith("ul. Ż")),
        ("name NOT LIKE 'ul. %a'", lambda p: p["name"] is not None and not p["name"].endswith("a")),
        ("width_m BETWEEN 3.5 AND 5.5", lambda p: p["width_m"] is not None and 3.5 <= p["width_m"] <= 5.5),
        ("surface IN ('asphalt', 'paving_stones')", lambda p: p["surface"] in ("asphalt", "paving_stones")),
        ("surface NOT IN ('asphalt')", lambda p: p["surface"] not in (None, "asphalt")),
    ],
)
def test_ats_advanced_comparison_operators(api, data, text, test):
    assert _ids(_text(api, "roads", text)) == _where(data, "roads", test)


def test_ats_case_insensitive_comparison(api, data):
    want = _where(data, "roads", lambda p: (p["name"] or "").lower() == "ul. łąkowa")
    assert _ids(_text(api, "roads", "CASEI(name) = casei('UL. ŁĄKOWA')")) == want != set()
    # LIKE with CASEI on both sides, as QGIS 3.32+ writes it
    assert _ids(_text(api, "roads", "(CASEI(name) LIKE CASEI('UL. ŁĄK%'))")) == want


@pytest.mark.parametrize(
    "op", ["S_INTERSECTS", "S_WITHIN", "S_DISJOINT", "S_CONTAINS", "S_TOUCHES", "S_CROSSES", "S_OVERLAPS", "S_EQUALS"]
)
def test_ats_spatial_functions(api, data, op):
    window = box(*shape(data["buildings"][0]["geometry"]).buffer(0.002).bounds)
    geo = {"type": "Polygon", "coordinates": mapping(window)["coordinates"]}
    test = {
        "S_INTERSECTS": window.intersects,
        "S_WITHIN": lambda g: g.within(window),
        "S_DISJOINT": window.disjoint,
        "S_CONTAINS": lambda g: g.contains(window),
        "S_TOUCHES": window.touches,
        "S_CROSSES": window.crosses,
        "S_OVERLAPS": window.overlaps,
        "S_EQUALS": window.equals,
    }[op]
    got = _ids(_post(api, "buildings", {"op": op.lower(), "args": [{"property": "geometry"}, geo]}))
    assert got == {f["id"] for f in data["buildings"] if test(shape(f["geometry"]))}


def test_ats_basic_spatial_functions(api, data):
    # S_INTERSECTS with a point (inside a building), and with a BBOX
    inside = shape(data["buildings"][0]["geometry"]).representative_point()
    got = _ids(_text(api, "buildings", f"S_INTERSECTS(geometry, POINT({inside.x} {inside.y}))"))
    assert data["buildings"][0]["id"] in got
    lon, lat = data["public_services"][0]["geometry"]["coordinates"]
    w, s, e, n = lon - 0.001, lat - 0.001, lon + 0.001, lat + 0.001
    want = {f["id"] for f in data["public_services"] if box(w, s, e, n).intersects(shape(f["geometry"]))}
    assert _ids(_text(api, "public_services", f"S_INTERSECTS(geometry, BBOX({w}, {s}, {e}, {n}))")) == want


def test_ats_cql2_text(api):
    r = _text(api, "roads", "road_class = = 'x'")
    assert r.status_code == 400 and "cannot parse the filter as cql2-text" in r.json()["detail"]


def test_ats_cql2_json(api, data):
    cql = {
        "op": "and",
        "args": [
            {"op": "like", "args": [{"property": "name"}, "ul. %"]},
            {"op": "between", "args": [{"property": "width_m"}, 4, 8]},
        ],
    }
    want = _where(data, "roads", lambda p: (p["name"] or "").startswith("ul. ") and 4 <= (p["width_m"] or -1) <= 8)
    assert _ids(_post(api, "roads", cql)) == want


# -- type checking before SQL --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "theme, text, prop",
    [
        ("buildings", "floors = 'abc'", "floors"),
        ("roads", "name > 5", "name"),
        ("buildings", "floors LIKE '1%'", "floors"),
        ("roads", "S_INTERSECTS(name, POINT(1 2))", "name"),
        ("land_use_plans", "adopted_on = TIMESTAMP('2020-01-15T00:00:00Z')", "adopted_on"),
        ("roads", "CASEI(width_m) = 'x'", "width_m"),
        ("roads", "is_street > true", "is_street"),
    ],
)
def test_ill_typed_literals_are_a_400_naming_property_type_and_literal(api, theme, text, prop):
    r = _text(api, theme, text)
    assert r.status_code == 400 and r.headers["Content-Type"].startswith("application/json"), r.text
    body = r.json()
    assert body["property"] == prop and body["expected"] and "literal" in body and prop in body["detail"]


# -- the fuzz ----------------------------------------------------------------------------------------------
FIELDS = {
    "roads": {
        "name": "string",
        "road_class": "string",
        "surface": "string",
        "width_m": "number",
        "lanes": "number",
        "carriageways": "number",
        "is_street": "boolean",
        "fid": "number",
    },
    "buildings": {
        "name": "string",
        "function": "string",
        "status": "string",
        "floors": "number",
        "height_m": "number",
        "footprint_m2": "number",
        "year_built": "number",
        "heritage": "boolean",
        "fid": "number",
    },
}


def _values(data, theme, prop) -> list:
    return sorted({f["properties"][prop] for f in data[theme] if f["properties"][prop] is not None}, key=str)


@st.composite
def predicate(draw, data, theme):
    """A well-typed CQL2-JSON predicate and its Python evaluation (None is SQL's unknown)."""
    prop = draw(st.sampled_from(sorted(FIELDS[theme])))
    kind = FIELDS[theme][prop]
    seen = _values(data, theme, prop)
    if kind == "number":
        value = draw(st.sampled_from(seen) if seen and draw(st.booleans()) else st.integers(-5, 2000))
        op = draw(st.sampled_from(["=", "<>", "<", "<=", ">", ">=", "between", "in", "isNull"]))
    elif kind == "boolean":
        value, op = draw(st.booleans()), draw(st.sampled_from(["=", "<>", "isNull"]))
    else:
        value = draw(st.sampled_from(seen) if seen else st.text(max_size=5))
        op = draw(st.sampled_from(["=", "<>", "like", "in", "isNull", "casei"]))
    a = {"property": prop}
    if op == "isNull":
        return {"op": "isNull", "args": [a]}, lambda p: p[prop] is None
    if op == "between":
        hi = value + draw(st.integers(0, 500))
        return {"op": "between", "args": [a, value, hi]}, lambda p: None if p[prop] is None else value <= p[prop] <= hi
    if op == "in":
        more = draw(st.lists(st.sampled_from(seen) if seen else st.just(value), max_size=3))
        options = [value, *more]
        return {"op": "in", "args": [a, options]}, lambda p: None if p[prop] is None else p[prop] in options
    if op == "like":
        prefix = value[: draw(st.integers(0, len(value)))].replace("%", "").replace("_", "").replace("\\", "")
        return (
            {"op": "like", "args": [a, prefix + "%"]},
            lambda p: None if p[prop] is None else p[prop].startswith(prefix),
        )
    if op == "casei":
        return (
            {"op": "=", "args": [{"op": "casei", "args": [a]}, {"op": "casei", "args": [value.upper()]}]},
            lambda p: None if p[prop] is None else p[prop].lower() == value.lower(),
        )
    compare = {
        "=": lambda x: x == value,
        "<>": lambda x: x != value,
        "<": lambda x: x < value,
        "<=": lambda x: x <= value,
        ">": lambda x: x > value,
        ">=": lambda x: x >= value,
    }[op]
    return {"op": op, "args": [a, value]}, lambda p: None if p[prop] is None else compare(p[prop])


def _and(x, y):
    return False if x is False or y is False else (None if x is None or y is None else True)


def _or(x, y):
    return True if x is True or y is True else (None if x is None or y is None else False)


@st.composite
def expression(draw, data, theme, depth=2):
    if depth == 0 or draw(st.booleans()):
        return draw(predicate(data, theme))
    kind = draw(st.sampled_from(["and", "or", "not"]))
    left, lf = draw(expression(data, theme, depth - 1))
    if kind == "not":
        return {"op": "not", "args": [left]}, lambda p: None if lf(p) is None else not lf(p)
    right, rf = draw(expression(data, theme, depth - 1))
    join = _and if kind == "and" else _or
    return {"op": kind, "args": [left, right]}, lambda p: join(lf(p), rf(p))


_FUZZ = settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


@pytest.mark.parametrize("theme", ["roads", "buildings"])
def test_fuzz_well_typed_filters_agree_with_python(api, data, theme):
    @_FUZZ
    @given(expression(data, theme))
    def check(made):
        cql, test = made
        r = _post(api, theme, cql)
        assert _ids(r) == {f["id"] for f in data[theme] if test(f["properties"]) is True}, cql

    check()


ILL = {
    "number": ["'abc'", "TRUE", "DATE('2020-01-01')"],
    "string": ["5", "TRUE", "TIMESTAMP('2020-01-01T00:00:00Z')"],
    "boolean": ["'yes'", "3"],
}


@pytest.mark.parametrize("theme", ["roads", "buildings"])
def test_fuzz_ill_typed_filters_are_400(api, theme):
    @_FUZZ
    @given(st.sampled_from(sorted(FIELDS[theme])), st.data())
    def check(prop, draw):
        kind = FIELDS[theme][prop]
        literal = draw.draw(st.sampled_from(ILL[kind]))
        op = draw.draw(st.sampled_from(["=", "<>", "<", ">="]))
        text = draw.draw(
            st.sampled_from(
                [
                    f"{prop} {op} {literal}",
                    f"{literal} {op} {prop}",
                    f"{prop} IN ({literal})",
                    f"S_INTERSECTS({prop}, POINT(1 2))",
                ]
                + ([f"{prop} LIKE 'a%'"] if kind != "string" else [])
            )
        )
        r = _text(api, theme, text)
        assert r.status_code == 400 and r.json()["status"] == 400, (text, r.text)

    check()


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(
    text=st.text(
        alphabet=st.sampled_from(list("abfloorsname()'=<>%_ ,.0123456789-:TZANDORNOTLIKEIN{}[]\"")), max_size=40
    ),
    lang=st.sampled_from(["cql2-text", "cql2-json", None]),
)
def test_fuzz_any_filter_text_never_gets_a_5xx(api, text, lang):
    params = {"filter-lang": lang} if lang else {}
    r = _text(api, "buildings", text, **params)
    assert r.status_code in (200, 400), (text, r.status_code, r.text[:300])
    assert r.headers["Content-Type"].startswith(("application/json", "application/geo+json"))
