"""`sdi check` catches mapping mistakes before any data is touched, each as `file: key.path: message`."""

from __future__ import annotations

import geopandas as gpd
import pytest
from shapely.geometry import LineString

from conftest import run_sdi

GOOD = """\
theme: roads
source:
  layer: ulice
  encoding: cp1250
  crs: EPSG:2178
id: ID_ULICY
fields:
  name: NAZWA
  width_m: {from: SZER}
  road_class:
    from: KAT_DROGI
    values: {gminna: municipal, powiatowa: district, "wojewódzka": regional}
  surface: {value: asphalt}
"""


@pytest.fixture
def source(tmp_path):
    """A small source with the columns GOOD expects, in layer `ulice`."""
    path = tmp_path / "ulice.gpkg"
    gpd.GeoDataFrame(
        {"ID_ULICY": [1], "NAZWA": ["Łąkowa"], "SZER": ["5,5"], "KAT_DROGI": ["gminna"]},
        geometry=[LineString([(0, 0), (1, 1)])],
        crs=2178,
    ).to_file(path, layer="ulice")
    return path


def _check(tmp_path, text, *extra):
    path = tmp_path / "mapping.yaml"
    path.write_text(text, encoding="utf-8")
    return path, run_sdi("check", str(path), *extra)


def test_the_issue_example_mapping_passes(tmp_path, source):
    path, result = _check(tmp_path, GOOD, "--source", str(source))
    assert result.returncode == 0, result.stderr
    assert "ok:" in result.stdout


@pytest.mark.parametrize(
    "change, expected",
    [
        (("theme: roads", "theme: drogi"), "theme: unknown theme 'drogi'"),
        (("  name: NAZWA", "  nazwa: NAZWA"), "fields.nazwa: the roads schema has no field 'nazwa'"),
        (
            ("gminna: municipal", "gminna: gminna_droga"),
            "fields.road_class.values.gminna: 'gminna_droga' is not in code list road_class",
        ),
        (("{value: asphalt}", "{value: trawa}"), "fields.surface.value: 'trawa' is not in code list road_surface"),
        (
            ("width_m: {from: SZER}", "width_m: {value: szeroka}"),
            "fields.width_m.value: 'szeroka' is not a valid number",
        ),
        (
            (
                "  road_class:\n    from: KAT_DROGI\n"
                '    values: {gminna: municipal, powiatowa: district, "wojewódzka": regional}\n',
                "",
            ),
            "fields: required field 'road_class' of roads is not mapped",
        ),
        (
            ("width_m: {from: SZER}", "width_m: {from: SZER, value: 5}"),
            "fields.width_m: give exactly one of from, value or template",
        ),
        (("fields:", "feilds:"), "feilds: Extra inputs are not permitted"),
        (("crs: EPSG:2178", "crs: PUWG2000"), "source.crs: 'PUWG2000' is not a known CRS"),
        (
            ("encoding: cp1250", "encoding: windows-1250-pl"),
            "source.encoding: 'windows-1250-pl' is not a known encoding",
        ),
        (
            ("    from: KAT_DROGI\n", "    template: '{KAT_DROGI}'\n"),
            "fields.road_class: values translates a source column: it needs from",
        ),
        (
            ("surface: {value: asphalt}", "surface: {from: NAWIERZCHNIA, default: trawa}"),
            "fields.surface.default: 'trawa' is not in code list road_surface",
        ),
        (("  name: NAZWA", "  name: [NAZWA\n"), "invalid YAML"),
    ],
)
def test_each_kind_of_mistake_is_located(tmp_path, change, expected):
    old, new = change
    assert old in GOOD
    path, result = _check(tmp_path, GOOD.replace(old, new))
    assert result.returncode == 1
    assert f"{path}: " in result.stderr and expected in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "change, expected",
    [
        (("NAZWA", "NAZWA_ULICY"), "fields.name.from: the source has no column 'NAZWA_ULICY'"),
        (("id: ID_ULICY", "id: GID"), "id: the source has no column 'GID'"),
        (("layer: ulice", "layer: drogi"), "source.layer: the source has no layer 'drogi' (layers: ulice)"),
    ],
)
def test_mistakes_against_the_source_file(tmp_path, source, change, expected):
    path, result = _check(tmp_path, GOOD.replace(*change), "--source", str(source))
    assert result.returncode == 1
    assert expected in result.stderr, result.stderr


def test_all_problems_are_reported_at_once(tmp_path):
    broken = GOOD.replace("  name: NAZWA", "  nazwa: NAZWA").replace("{value: asphalt}", "{value: trawa}")
    path, result = _check(tmp_path, broken.replace("crs: EPSG:2178", "crs: PUWG2000"))
    assert result.returncode == 1
    assert "3 problem(s) found" in result.stderr


def test_shipped_configuration_passes():
    result = run_sdi("check")
    assert result.returncode == 0, result.stderr
    assert "13 schemas" in result.stdout


def test_schemas_lists_every_theme_and_schema_show_gives_fields_and_codes():
    listing = run_sdi("schemas")
    assert listing.returncode == 0
    for theme in (
        "administrative_units",
        "address_points",
        "parcels",
        "buildings",
        "roads",
        "cycle_paths",
        "public_transport_stops",
        "public_services",
        "green_areas",
        "trees",
        "protected_nature",
        "utility_networks",
        "land_use_plans",
    ):
        assert theme in listing.stdout
    shown = run_sdi("schema", "show", "roads", "--json")
    doc = __import__("json").loads(shown.stdout)
    assert list(doc["fields"])[:4] == ["name", "road_class", "surface", "width_m"]
    assert doc["geometry"] == "MultiLineString" and doc["crs"] == "EPSG:2180"
    assert doc["codelists"]["road_class"]["codes"]["municipal"]["pl"] == "gminna"
    unknown = run_sdi("schema", "show", "drogi")
    assert unknown.returncode == 2 and "unknown theme 'drogi'" in unknown.stderr
