"""The harmonise stage on its own: mappings onto the common schemas, with nothing lost silently."""

from __future__ import annotations

import geopandas as gpd
import pytest
from shapely.geometry import LineString, Point, Polygon

from sdi.core.config import Mapping, registry
from sdi.loader.harmonise import harmonise
from sdi.loader.suggest import auto_mapping, guess_code, match_columns


def _line(n=1):
    return [LineString([(640_000 + i, 340_000), (640_050 + i, 340_000)]) for i in range(n)]


def _run(frame, theme, fields, **mapping):
    reg = registry()
    m = Mapping.model_validate({"theme": theme, "fields": fields, **mapping})
    return harmonise(frame, city="2699011", schema=reg.schema(theme), mapping=m, registry=reg)


def test_the_issue_example_translates_codes_converts_numbers_and_sets_constants():
    frame = gpd.GeoDataFrame(
        {
            "NAZWA": ["Łąkowa", "Polna"],
            "SZER": ["12,5", "7"],
            "KAT_DROGI": ["gminna", "wojewódzka"],
            "ID_ULICY": [11, 12],
        },
        geometry=_line(2),
        crs=2178,
    )
    out = _run(
        frame,
        "roads",
        {
            "name": "NAZWA",
            "width_m": {"from": "SZER"},
            "surface": {"value": "asphalt"},
            "road_class": {"from": "KAT_DROGI", "values": {"gminna": "municipal", "wojewódzka": "regional"}},
        },
        id="ID_ULICY",
    )
    rows = out.frame.to_dict("records")
    assert [r["road_class"] for r in rows] == ["municipal", "regional"]
    assert [r["width_m"] for r in rows] == [12.5, 7.0]
    assert {r["surface"] for r in rows} == {"asphalt"}
    assert [r["source_id"] for r in rows] == ["11", "12"]
    assert out.frame.crs.to_epsg() == 2180 and set(out.frame.geom_type) == {"MultiLineString"}


def test_unmapped_values_of_a_required_field_reject_with_reason_and_of_an_optional_one_count():
    frame = gpd.GeoDataFrame(
        {"KAT": ["gminna", "osiedlowa", "gminna"], "NAW": ["asfalt", "tłuczeń kolorowy", None]},
        geometry=_line(3),
        crs=2180,
    )
    out = _run(frame, "roads", {"road_class": {"from": "KAT", "values": {"gminna": "municipal"}}, "surface": "NAW"})
    assert len(out.frame) == 2
    assert len(out.rejects) == 1
    assert "required field road_class: source value 'osiedlowa' (KAT) does not map" == out.rejects[0]["reason"]
    assert out.unmapped_values["road_class"] == {"osiedlowa": 1}
    assert out.unmapped_values["surface"] == {"tłuczeń kolorowy": 1}
    assert out.frame["surface"].iloc[0] == "asphalt" and out.frame["surface"].isna().iloc[1]


def test_unconvertible_numbers_are_counted_and_null():
    frame = gpd.GeoDataFrame({"KAT": ["G", "G"], "SZER": ["5,5", "szeroka"]}, geometry=_line(2), crs=2180)
    out = _run(frame, "roads", {"road_class": "KAT", "width_m": "SZER"})
    assert list(out.frame["road_class"]) == ["municipal", "municipal"]  # BDOT10k code G via the code list
    assert list(out.frame["width_m"])[0] == 5.5 and out.frame["width_m"].isna().tolist()[1]
    assert out.unconverted_values == {"width_m": {"szeroka": 1}}


def test_multi_value_field_maps_to_the_first_element_that_maps():
    square = Polygon([(0, 0), (10, 0), (10, 10), (0, 10)])
    frame = gpd.GeoDataFrame(
        {"fun": [["9999.Xx", "1122.Dw"], ["1230.Ph"]], "kond": [4.0, None]}, geometry=[square, square], crs=2180
    )
    out = _run(frame, "buildings", {"function": "fun", "floors": "kond"})
    assert list(out.frame["function"]) == ["residential", "commercial"]
    assert out.frame["floors"].tolist()[0] == 4


def test_default_template_and_coalesced_columns():
    frame = gpd.GeoDataFrame(
        {
            "amenity": ["school", None],
            "healthcare": [None, "counselling"],
            "ulica": ["Klonowa", "Flory"],
            "nr": ["16", None],
            "name": ["A", "B"],
        },
        geometry=[Point(640_000, 340_000), Point(640_010, 340_000)],
        crs=2180,
    )
    out = _run(
        frame,
        "public_services",
        {
            "name": "name",
            "service_type": {"from": ["amenity", "healthcare"]},
            "address": {"template": "ul. {ulica} {nr}"},
        },
    )
    assert list(out.frame["service_type"]) == ["school", "counselling"]
    assert list(out.frame["address"]) == ["ul. Klonowa 16", "ul. Flory"]
    defaulted = _run(
        frame, "public_services", {"name": "name", "service_type": {"from": "amenity", "default": "other"}}
    )
    assert list(defaulted.frame["service_type"]) == ["school", "other"]


def test_a_geometry_of_another_dimension_is_rejected_with_reason():
    frame = gpd.GeoDataFrame({"KAT": ["G", "G"]}, geometry=[_line()[0], Point(640_000, 340_000)], crs=2180)
    out = _run(frame, "roads", {"road_class": "KAT"})
    assert len(out.frame) == 1
    assert out.rejects[0]["reason"] == "a Point does not fit theme roads (MultiLineString)"


@pytest.mark.parametrize("column, field", [("NAZWA", "name"), ("KAT_DROGI", "road_class"), ("SZER", "width_m")])
def test_columns_match_fields_by_polish_names(column, field):
    assert match_columns(["ID", column], registry().schema("roads"))[field][0] == column


def test_species_and_circumference_match_for_trees():
    matched = match_columns(["GATUNEK", "OBWOD", "WYSOKOSC"], registry().schema("trees"))
    assert matched["species"][0] == "GATUNEK" and matched["trunk_circumference_cm"][0] == "OBWOD"
    assert matched["height_m"][0] == "WYSOKOSC"


def test_codes_are_guessed_from_labels_and_bdot10k_codes():
    road_class = registry().codelists["road_class"]
    assert guess_code("gminna", road_class) == "municipal"
    assert guess_code("Powiatowa", road_class) == "district"
    assert guess_code("K", road_class) == "national"
    assert auto_mapping(["name", "road_class"], registry().schema("roads")).fields["name"].columns == ["name"]
