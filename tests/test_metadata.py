"""Metadata, discovery and bulk downloads (issue 19): ISO 19139 records valid offline, pycsw over them behind
the front, GeoPackages that GDAL opens, and nothing of a restricted theme in any of it."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import geopandas as gpd
import psycopg
import pytest
import requests
from lxml import etree
from shapely.geometry import LineString

from conftest import fresh_database, load_sample, run_sdi, running_api
from sdi.core.catalogue import open_catalogue
from sdi.core.sample import SAMPLE_CITY
from sdi.pipeline import run_load
from sdi.server import csw, datasets, downloads, records

RESTRICTED = "utility_networks"
NS = records.NS
PROJECT = Path(__file__).resolve().parents[1]
XSD = (PROJECT / ".venv-csw/lib/python3.11/site-packages/pycsw/plugins/profiles/apiso/schemas/ogc/iso/19139/20060504"
       / "gmd/gmd.xsd")
HOSTILE = 'a</gco:CharacterString><x y="1">&amp;<!-- ]]>'


@pytest.fixture(scope="module")
def iso_schema() -> etree.XMLSchema:
    """The ISO 19139 schemas that pycsw ships (gmd, gco, gml, gmx, 2006-05-04): validation with no network."""
    assert XSD.exists(), "run `make setup`: it installs pycsw, whose package carries the ISO 19139 schemas"
    # gmd and gmx together: gmx:Anchor stands in for gco:CharacterString only where gmx is known
    imports = "".join(f'<xs:import namespace="http://www.isotc211.org/2005/{ns}" '
                      f'schemaLocation="{XSD.parent.parent / ns / f"{ns}.xsd"}"/>' for ns in ("gmd", "gmx"))
    wrapper = f'<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">{imports}</xs:schema>'
    return etree.XMLSchema(etree.fromstring(wrapper, etree.XMLParser(no_network=True)))


@pytest.fixture(scope="module")
def loaded(server_url, tmp_path_factory):
    """The sample gmina plus a restricted water main, loaded from a file whose name is hostile XML."""
    tmp = tmp_path_factory.mktemp("metadata")
    with fresh_database(server_url) as db_url:
        settings = load_sample(tmp, db_url)
        pipes = gpd.GeoDataFrame({"network": ["water", "gas"], "diameter_mm": [160, 90]},
                                 geometry=[LineString([(616300, 335700), (616900, 335700)]),
                                           LineString([(616300, 335800), (616900, 335800)])], crs=2180)
        pipes.to_file(tmp / "sieci.gpkg")
        run_load(tmp / "sieci.gpkg", city=SAMPLE_CITY, theme=RESTRICTED, settings=settings)
        yield settings, db_url, tmp


def _published(settings):
    with open_catalogue(settings) as conn:
        return datasets.published(conn, settings)


def test_file_identifiers_are_stable_and_restricted_themes_are_not_data_sets(loaded):
    settings, _, _ = loaded
    found = _published(settings)
    themes = {d.theme for d in found}
    assert RESTRICTED not in themes and {"roads", "buildings", "public_services"} <= themes
    roads = next(d for d in found if d.theme == "roads" and d.city == SAMPLE_CITY)
    assert roads.file_identifier == str(uuid.uuid5(datasets.NAMESPACE, f"{SAMPLE_CITY}/roads"))
    assert roads.count == 9 and roads.loads[0].source_name == "drogi.shp"
    national = next(d for d in found if d.theme == "roads" and d.city == datasets.ALL)
    assert national.file_identifier != roads.file_identifier
    assert -180 < roads.bbox[0] < roads.bbox[2] < 180 and 49 < roads.bbox[1] < roads.bbox[3] < 55


def test_every_record_validates_against_iso_19139_and_has_what_inspire_requires(loaded, iso_schema):
    settings, _, _ = loaded
    with open_catalogue(settings) as conn:
        datasets.set_register_id(conn, SAMPLE_CITY, "roads", "PL.ZIPIN.2699011.ROADS")
    for ds in _published(settings):
        root = etree.fromstring(records.iso19139(ds, settings, "http://sdi.example"))
        assert iso_schema.validate(root), f"{ds.theme}/{ds.city}: {iso_schema.error_log.last_error}"
        _inspire_elements(root, ds)


def _inspire_elements(root: etree._Element, ds: datasets.Dataset) -> None:
    """The elements of the INSPIRE metadata technical guidelines (2.0) for a data set, each present."""
    def text(path: str) -> list[str]:
        return [e.text for e in root.iterfind(path, NS) if e.text and e.text.strip()]
    assert text("gmd:fileIdentifier/gco:CharacterString") == [ds.file_identifier]
    assert text("gmd:language/gmd:LanguageCode") == ["pol"]
    assert text("gmd:hierarchyLevel/gmd:MD_ScopeCode") == ["dataset"]
    assert root.find("gmd:contact/gmd:CI_ResponsibleParty/gmd:role/gmd:CI_RoleCode", NS).get(
        "codeListValue") == "pointOfContact"
    assert text("gmd:contact//gmd:electronicMailAddress/gco:CharacterString")
    assert text("gmd:dateStamp/gco:Date")
    ident = "gmd:identificationInfo/gmd:MD_DataIdentification/"
    assert text(ident + "gmd:citation/gmd:CI_Citation/gmd:title/gco:CharacterString")
    assert text(ident + "gmd:citation/gmd:CI_Citation/gmd:date/gmd:CI_Date/gmd:date/gco:Date")
    code = text(ident + "gmd:citation/gmd:CI_Citation/gmd:identifier/gmd:MD_Identifier/gmd:code/gco:CharacterString")
    expected = "PL.ZIPIN.2699011.ROADS" if (ds.city, ds.theme) == (SAMPLE_CITY, "roads") else f"urn:uuid:{ds.file_identifier}"
    assert code == [expected]
    assert text(ident + "gmd:abstract/gco:CharacterString") and text(ident + "gmd:abstract//gmd:LocalisedCharacterString")
    assert text(ident + "gmd:pointOfContact//gmd:organisationName/gco:CharacterString")
    keywords = text(ident + "gmd:descriptiveKeywords/gmd:MD_Keywords/gmd:keyword/gco:CharacterString")
    assert records.INSPIRE[ds.theme][0] in keywords
    assert "GEMET - INSPIRE themes, version 1.0" in text(ident + "gmd:descriptiveKeywords//gmd:thesaurusName//gco:CharacterString")
    assert text(ident + "gmd:topicCategory/gmd:MD_TopicCategoryCode")
    box = ident + "gmd:extent/gmd:EX_Extent/gmd:geographicElement/gmd:EX_GeographicBoundingBox/"
    west, east = float(text(box + "gmd:westBoundLongitude/gco:Decimal")[0]), float(text(box + "gmd:eastBoundLongitude/gco:Decimal")[0])
    assert 14 < west <= east < 25
    assert text(ident + "gmd:extent//gml:TimePeriod/gml:beginPosition".replace("gml:", "{http://www.opengis.net/gml}"))
    assert text(ident + "gmd:resourceConstraints/gmd:MD_LegalConstraints/gmd:accessConstraints/gmd:MD_RestrictionCode")
    assert root.find(ident + "gmd:resourceConstraints//gmd:otherConstraints/gmx:Anchor", NS).get(
        "{http://www.w3.org/1999/xlink}href") == "https://creativecommons.org/licenses/by/4.0/"
    assert text("gmd:referenceSystemInfo//gmd:code/gco:CharacterString") == ["http://www.opengis.net/def/crs/EPSG/0/2180"]
    lineage = text("gmd:dataQualityInfo//gmd:lineage//gmd:statement/gco:CharacterString")[0]
    assert all(x.source_name in lineage and (x.sha256 or "?") in lineage for x in ds.loads)
    assert "/" not in lineage.split("SHA-256")[0].split(":", 1)[1], "a server path in the lineage"
    assert text("gmd:dataQualityInfo//gmd:DQ_ConformanceResult/gmd:specification//gmd:title/gco:CharacterString")
    urls = text("gmd:distributionInfo//gmd:onLine/gmd:CI_OnlineResource/gmd:linkage/gmd:URL")
    assert any("/collections/" + ds.theme in u for u in urls)
