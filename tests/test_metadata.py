"""Metadata, discovery and bulk downloads (issue 19): ISO 19139 records valid offline, pycsw over them behind
the front, GeoPackages that GDAL opens, and nothing of a restricted theme in any of it."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import geopandas as gpd
import pytest
import requests
from lxml import etree
from shapely.geometry import LineString

from sdi.core import tokens
from sdi.core.catalogue import open_catalogue
from sdi.core.errors import ConfigError
from sdi.core.sample import SAMPLE_CITY
from sdi.core.settings import Settings
from sdi.pipeline import run_load
from sdi.server import collection_links, datasets, iso_fixes, publish, records, service_records

from conftest import fresh_database, load_sample, run_sdi, running_api

RESTRICTED = "utility_networks"
NS = iso_fixes.NS
PROJECT = Path(__file__).resolve().parents[1]
XSD = (
    PROJECT
    / ".venv-csw/lib/python3.11/site-packages/pycsw/plugins/profiles/apiso/schemas/ogc/iso/19139/20060504"
    / "gmd/gmd.xsd"
)
HOSTILE = 'a</gco:CharacterString><x y="1">&amp;<!-- ]]>'


@pytest.fixture(scope="module")
def iso_schema() -> etree.XMLSchema:
    """The ISO 19139 schemas that pycsw ships (gmd, gco, gml, gmx, 2006-05-04): validation with no network."""
    assert XSD.exists(), "run `make setup`: it installs pycsw, whose package carries the ISO 19139 schemas"
    # gmd and gmx together: gmx:Anchor stands in for gco:CharacterString only where gmx is known
    imports = "".join(
        f'<xs:import namespace="http://www.isotc211.org/2005/{ns}" '
        f'schemaLocation="{XSD.parent.parent / ns / f"{ns}.xsd"}"/>'
        for ns in ("gmd", "gmx", "srv")
    )
    wrapper = f'<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">{imports}</xs:schema>'
    return etree.XMLSchema(etree.fromstring(wrapper, etree.XMLParser(no_network=True)))


@pytest.fixture(scope="module")
def loaded(server_url, tmp_path_factory):
    """The sample gmina plus a restricted water main, loaded from a file whose name is hostile XML."""
    tmp = tmp_path_factory.mktemp("metadata")
    with fresh_database(server_url) as db_url:
        settings = load_sample(tmp, db_url)
        pipes = gpd.GeoDataFrame(
            {"network": ["water", "gas"], "diameter_mm": [160, 90]},
            geometry=[
                LineString([(616300, 335700), (616900, 335700)]),
                LineString([(616300, 335800), (616900, 335800)]),
            ],
            crs=2180,
        )
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
    assert (
        root.find("gmd:contact/gmd:CI_ResponsibleParty/gmd:role/gmd:CI_RoleCode", NS).get("codeListValue")
        == "pointOfContact"
    )
    assert text("gmd:contact//gmd:electronicMailAddress/gco:CharacterString")
    assert text("gmd:dateStamp/gco:Date")
    ident = "gmd:identificationInfo/gmd:MD_DataIdentification/"
    assert text(ident + "gmd:citation/gmd:CI_Citation/gmd:title/gco:CharacterString")
    assert text(ident + "gmd:citation/gmd:CI_Citation/gmd:date/gmd:CI_Date/gmd:date/gco:Date")
    code = text(ident + "gmd:citation/gmd:CI_Citation/gmd:identifier/gmd:MD_Identifier/gmd:code/gco:CharacterString")
    expected = (
        "PL.ZIPIN.2699011.ROADS" if (ds.city, ds.theme) == (SAMPLE_CITY, "roads") else f"urn:uuid:{ds.file_identifier}"
    )
    assert code == [expected]
    assert text(ident + "gmd:abstract/gco:CharacterString") and text(
        ident + "gmd:abstract//gmd:LocalisedCharacterString"
    )
    assert text(ident + "gmd:pointOfContact//gmd:organisationName/gco:CharacterString")
    keywords = text(ident + "gmd:descriptiveKeywords/gmd:MD_Keywords/gmd:keyword/gco:CharacterString")
    assert records.INSPIRE[ds.theme][0] in keywords
    thesauri = text(ident + "gmd:descriptiveKeywords//gmd:thesaurusName//gco:CharacterString")
    assert "GEMET - INSPIRE themes, version 1.0" in thesauri
    assert text(ident + "gmd:topicCategory/gmd:MD_TopicCategoryCode")
    box = ident + "gmd:extent/gmd:EX_Extent/gmd:geographicElement/gmd:EX_GeographicBoundingBox/"
    west = float(text(box + "gmd:westBoundLongitude/gco:Decimal")[0])
    east = float(text(box + "gmd:eastBoundLongitude/gco:Decimal")[0])
    assert 14 < west <= east < 25
    assert text(ident + "gmd:extent//gml:TimePeriod/gml:beginPosition".replace("gml:", "{http://www.opengis.net/gml}"))
    assert text(ident + "gmd:resourceConstraints/gmd:MD_LegalConstraints/gmd:accessConstraints/gmd:MD_RestrictionCode")
    assert (
        root.find(ident + "gmd:resourceConstraints//gmd:otherConstraints/gmx:Anchor", NS).get(
            "{http://www.w3.org/1999/xlink}href"
        )
        == "https://creativecommons.org/licenses/by/4.0/"
    )
    assert text("gmd:referenceSystemInfo//gmd:code/gco:CharacterString") == [
        "http://www.opengis.net/def/crs/EPSG/0/2180"
    ]
    lineage = text("gmd:dataQualityInfo//gmd:lineage//gmd:statement/gco:CharacterString")[0]
    assert all(x.source_name in lineage and (x.sha256 or "?") in lineage for x in ds.loads)
    assert "/" not in lineage.split("SHA-256")[0].split(":", 1)[1], "a server path in the lineage"
    assert text("gmd:dataQualityInfo//gmd:DQ_ConformanceResult/gmd:specification//gmd:title/gco:CharacterString")
    urls = text("gmd:distributionInfo//gmd:onLine/gmd:CI_OnlineResource/gmd:linkage/gmd:URL")
    assert any("/collections/" + ds.theme in u for u in urls)


def test_a_hostile_source_name_stays_text_in_the_record(server_url, tmp_path, iso_schema):
    with fresh_database(server_url) as db_url:
        settings = Settings(home=tmp_path / "home", database_url=db_url)
        frame = gpd.GeoDataFrame(
            {"name": ["ul. Długa"], "road_class": ["municipal"]},
            geometry=[LineString([(616300, 335700), (616900, 335700)])],
            crs=2180,
        )
        hostile = tmp_path / "x&y<z>.gpkg"
        frame.to_file(hostile)
        run_load(hostile, city=SAMPLE_CITY, theme="roads", settings=settings)
        roads = next(d for d in _published(settings) if (d.city, d.theme) == (SAMPLE_CITY, "roads"))
        root = etree.fromstring(records.iso19139(roads, settings, "http://sdi.example"))
        assert iso_schema.validate(root)
        lineage = root.find("gmd:dataQualityInfo//gmd:statement/gco:CharacterString", NS).text
        assert "x&y<z>.gpkg" in lineage and str(tmp_path) not in etree.tostring(root, encoding="unicode")


@pytest.fixture(scope="module")
def served(loaded):
    settings, db_url, tmp = loaded
    with running_api(db_url, tmp / "home") as base:
        _wait_for_the_files(base)
        yield base, settings


def _wait_for_the_files(base: str, seconds: float = 90) -> None:
    """sdi serve answers before its bulk files are written; they get their links (API, feed) a few polls later."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        doc = requests.get(f"{base}/collections/roads?f=json", timeout=30).json()
        feed = requests.get(f"{base}/metadata/atom.xml", timeout=30).text
        if len([x for x in doc["links"] if x["rel"] == "enclosure"]) == 2 and "roads_PL.gpkg" in feed:
            return
        time.sleep(0.5)
    raise AssertionError("the bulk files were never linked")


def test_csw_answers_owslib_behind_the_front(served):
    from owslib.csw import CatalogueServiceWeb
    from owslib.fes import BBox, PropertyIsLike

    base, _ = served
    catalogue = CatalogueServiceWeb(f"{base}/csw", timeout=30)
    assert catalogue.identification.type == "CSW" and "GetRecords" in [o.name for o in catalogue.operations]
    catalogue.getrecords2(constraints=[PropertyIsLike("csw:AnyText", "%Drogi%")], maxrecords=50)
    roads = datasets.file_identifier(SAMPLE_CITY, "roads")
    assert roads in catalogue.records and datasets.file_identifier(datasets.ALL, "roads") in catalogue.records
    assert datasets.file_identifier(SAMPLE_CITY, "buildings") not in catalogue.records
    # lat/lon, as CSW 2.0.2 reads EPSG:4326
    catalogue.getrecords2(constraints=[BBox([50.8, 20.5, 50.95, 20.8])], maxrecords=50)
    assert roads in catalogue.records
    catalogue.getrecords2(constraints=[BBox([54.0, 14.2, 54.5, 14.6])], maxrecords=50)
    assert catalogue.results["matches"] == 0
    catalogue.getrecordbyid(id=[roads], outputschema="http://www.isotc211.org/2005/gmd")
    assert catalogue.records[roads].identification[0].title.startswith("Drogi")
    everything = requests.get(
        f"{base}/csw",
        params={
            "service": "CSW",
            "version": "2.0.2",
            "request": "GetRecords",
            "typenames": "csw:Record",
            "resulttype": "results",
            "elementsetname": "full",
            "maxrecords": "100",
        },
        timeout=30,
    )
    assert everything.status_code == 200 and "Drogi" in everything.text
    assert RESTRICTED not in everything.text and "Sieci uzbrojenia" not in everything.text


def test_bulk_downloads_open_in_gdal_with_the_right_counts(served):
    base, settings = served
    for city, count in ((SAMPLE_CITY, 9), ("PL", 9)):
        url = f"{base}/downloads/roads/roads_{city}.gpkg"
        head = requests.head(url, timeout=10)
        assert head.status_code == 200 and head.headers.get("ETag")
        part = requests.get(url, headers={"Range": "bytes=0-15"}, timeout=10)
        assert part.status_code == 206 and part.content == b"SQLite format 3\x00"
        info = subprocess.run(
            ["ogrinfo", "-so", "-al", f"/vsicurl/{url}"], capture_output=True, text=True, timeout=60, check=False
        )
        assert f"Feature Count: {count}" in info.stdout, info.stdout + info.stderr
    assert requests.get(f"{base}/downloads/{RESTRICTED}/{RESTRICTED}_{SAMPLE_CITY}.gpkg", timeout=10).status_code == 404
    assert not list((settings.home_abs / "downloads").glob(f"{RESTRICTED}*"))


def test_records_feed_and_dcat_are_served_and_name_no_restricted_theme(served):
    base, _ = served
    roads = datasets.file_identifier(SAMPLE_CITY, "roads")
    record = requests.get(f"{base}/metadata/{roads}.xml", timeout=10)
    assert record.status_code == 200 and f"{base}/downloads/roads/roads_{SAMPLE_CITY}.gpkg" in record.text
    hidden = datasets.file_identifier(SAMPLE_CITY, RESTRICTED)
    assert requests.get(f"{base}/metadata/{hidden}.xml", timeout=10).status_code == 404
    feed = etree.fromstring(requests.get(f"{base}/metadata/atom.xml", timeout=10).content)
    enclosures = [
        link.get("href") for link in feed.iter("{http://www.w3.org/2005/Atom}link") if link.get("rel") == "enclosure"
    ]
    assert f"{base}/downloads/roads/roads_{SAMPLE_CITY}.gpkg" in enclosures
    search = requests.get(f"{base}/metadata/opensearch.xml", timeout=10)  # the feed's OpenSearch description
    assert search.status_code == 200 and search.headers["Content-Type"] == "application/opensearchdescription+xml"
    assert b"OpenSearchDescription" in search.content
    dcat = requests.get(f"{base}/metadata/catalogue.jsonld", timeout=10).json()
    assert len(dcat["dcat:dataset"]) >= 6
    for text in (etree.tostring(feed, encoding="unicode"), json.dumps(dcat)):
        assert RESTRICTED not in text and hidden not in text


def test_set_id_and_iip_register(loaded):
    _, db_url, tmp = loaded
    env = {"SDI_DATABASE_URL": db_url, "SDI_HOME": str(tmp / "cli")}
    done = run_sdi("metadata", "set-id", "--city", SAMPLE_CITY, "--theme", "buildings", "PL.ZIPIN.2699011.BUD", env=env)
    assert done.returncode == 0, done.stderr
    bad = run_sdi("metadata", "set-id", "--city", SAMPLE_CITY, "--theme", "buildings", "<x>", env=env)
    assert bad.returncode != 0 and "Fix" in bad.stderr + bad.stdout and "Traceback" not in bad.stderr
    shown = run_sdi("metadata", "show", "--city", SAMPLE_CITY, "--theme", "buildings", env=env)
    assert "PL.ZIPIN.2699011.BUD" in shown.stdout
    listed = run_sdi("iip-register", "--city", SAMPLE_CITY, "--url", "https://sip.example.gov.pl", "--", env=env)
    assert datasets.file_identifier(SAMPLE_CITY, "roads") in listed.stdout
    assert "https://sip.example.gov.pl/csw" in listed.stdout and RESTRICTED not in listed.stdout


def test_collection_descriptions_describe_the_data_set_not_the_load_log(served):
    base, _ = served
    about = requests.get(f"{base}/collections/roads?f=json", timeout=10).json()["description"]
    assert "Latest loads" not in about and "load " not in about and "drogi.shp" not in about
    assert f"/metadata/{datasets.file_identifier(datasets.ALL, 'roads')}.xml" in about


SRV = {**NS, "srv": "http://www.isotc211.org/2005/srv"}


def test_service_records_validate_and_name_their_data_sets(loaded, iso_schema, tmp_path):
    """Discovery, view and download services each get an ISO 19139 record (srv:SV_ServiceIdentification)."""
    settings, _, _ = loaded
    # a responsible party whose name is hostile XML: it must stay text (the template escapes every value)
    config = tmp_path / "config"
    shutil.copytree(settings.config_dir.resolve(), config)
    meta = (config / "metadata.yaml").read_text(encoding="utf-8")
    (config / "metadata.yaml").write_text(
        meta.replace("organization: {pl: Administrator SIP", "organization: {pl: '" + HOSTILE + "'"), encoding="utf-8"
    )
    settings = settings.model_copy(update={"config_dir": config})
    found = _published(settings)
    national = {d.file_identifier for d in found if d.city == datasets.ALL}
    assert len(service_records.offered(True)) == 4 and len(service_records.offered(False)) == 3
    for svc in service_records.offered(True):
        root = etree.fromstring(service_records.iso19139(svc, found, settings, "https://sip.example.gov.pl"))
        assert iso_schema.validate(root), f"{svc.key}: {iso_schema.error_log.last_error}"

        def text(path: str, root: etree._Element = root) -> list[str]:
            return [e.text for e in root.iterfind(path, SRV)]

        ident = "gmd:identificationInfo/srv:SV_ServiceIdentification/"
        assert text("gmd:fileIdentifier/gco:CharacterString") == [service_records.file_identifier(svc.key)]
        assert text("gmd:hierarchyLevel/gmd:MD_ScopeCode") == ["service"]
        assert text(ident + "srv:serviceType/gco:LocalName") == [svc.kind]
        assert svc.classification in text(ident + "gmd:descriptiveKeywords//gmd:keyword/gco:CharacterString")
        assert text("gmd:contact//gmd:organisationName/gco:CharacterString") == [HOSTILE]
        assert text(ident + "gmd:pointOfContact//gmd:electronicMailAddress/gco:CharacterString")
        assert text(ident + "srv:couplingType/srv:SV_CouplingType") == [svc.coupling]
        assert text(ident + "gmd:resourceConstraints//gmd:accessConstraints/gmd:MD_RestrictionCode")
        assert "976/2009" in text("gmd:dataQualityInfo//gmd:specification//gmd:title/gco:CharacterString")[0]
        urls = text("gmd:distributionInfo//gmd:linkage/gmd:URL") + text(ident + "srv:containsOperations//gmd:URL")
        assert urls and all(u.startswith("https://sip.example.gov.pl/") for u in urls)
        operates = {e.get("uuidref") for e in root.iterfind(ident + "srv:operatesOn", SRV)}
        assert operates >= national and datasets.file_identifier(SAMPLE_CITY, RESTRICTED) not in operates
        west = float(text(ident + "srv:extent//gmd:westBoundLongitude/gco:Decimal")[0])
        assert 14 < west < 25


@pytest.mark.parametrize(
    "url",
    [
        "https://sip.example.gov.pl\n[manager]\ntransactions=true",
        "https://u:p@sip.example",
        "javascript:alert(1)",
        "https://sip.example/?a=b",
        "https://sip.example/x y",
        'https://sip.example/";return 200 "x',
    ],
)
def test_a_public_url_that_could_break_a_config_or_a_record_is_refused(url):
    with pytest.raises(ConfigError, match="SDI_PUBLIC_URL"):
        records.public_url(Settings(public_url=url), "http://127.0.0.1:5000")


def test_the_public_url_setting_reaches_server_url_records_and_the_cli(loaded):
    settings, db_url, tmp = loaded
    assert records.public_url(Settings(), "http://127.0.0.1:5000") == "http://127.0.0.1:5000"
    public = settings.model_copy(update={"public_url": "https://sip.example.gov.pl/gis/"})
    with open_catalogue(settings) as conn:
        config = publish.build_config(conn, public, "127.0.0.1", 5000)
    assert config["server"]["url"] == "https://sip.example.gov.pl/gis"
    links = [x for r in config["resources"].values() for x in r.get("links", []) if x["rel"] != "preview"]
    hrefs = [h for x in links for h in (x["href"].values() if isinstance(x["href"], dict) else [x["href"]])]
    assert hrefs and all(h.startswith("https://") for h in hrefs)
    assert any(h.startswith("https://sip.example.gov.pl/gis/metadata/") for h in hrefs)
    env = {"SDI_DATABASE_URL": db_url, "SDI_HOME": str(tmp / "cli"), "SDI_PUBLIC_URL": "https://sip.example.gov.pl"}
    listed = run_sdi("metadata", "list", env=env)
    assert listed.returncode == 0 and "https://sip.example.gov.pl/metadata/" in listed.stdout, listed.stderr
    bad = run_sdi("metadata", "list", env={**env, "SDI_PUBLIC_URL": "https://x\n[manager]"})
    assert bad.returncode == 2 and "SDI_PUBLIC_URL" in bad.stderr and "Fix:" in bad.stderr
    assert "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) <= 3


def test_collections_link_record_licence_and_files_in_the_readers_language(served):
    base, _ = served
    english = requests.get(f"{base}/collections/roads?f=json", headers={"Accept-Language": "en"}, timeout=10).json()
    polish = requests.get(f"{base}/collections/roads?f=json", headers={"Accept-Language": "pl"}, timeout=10).json()

    def rel(doc: dict, name: str) -> list[dict]:
        return [x for x in doc["links"] if x["rel"] == name]

    assert [x["href"] for x in rel(english, "license")] == ["https://creativecommons.org/licenses/by/4.0/deed.en"]
    assert [x["hreflang"] for x in rel(english, "license")] == ["en"]
    assert [x["href"] for x in rel(polish, "license")] == ["https://creativecommons.org/licenses/by/4.0/deed.pl"]
    assert [x["hreflang"] for x in rel(polish, "license")] == ["pl"] and rel(polish, "license")[0]["title"].startswith(
        "Licencja"
    )
    described = [x["href"] for x in rel(english, "describedby")]
    assert f"{base}/metadata/{datasets.file_identifier(datasets.ALL, 'roads')}.xml" == described[0]
    assert f"{base}/metadata/{datasets.file_identifier(SAMPLE_CITY, 'roads')}.xml" in described
    for href in described:
        record = requests.get(href, timeout=10)
        assert record.status_code == 200 and etree.fromstring(record.content).tag == f"{{{NS['gmd']}}}MD_Metadata"
    files = rel(english, "enclosure")
    assert {x["href"] for x in files} == {
        f"{base}/downloads/roads/roads_PL.gpkg",
        f"{base}/downloads/roads/roads_{SAMPLE_CITY}.gpkg",
    }
    for x in files:
        head = requests.head(x["href"], timeout=10)
        assert x["type"] == "application/geopackage+sqlite3" and x["length"] == int(head.headers["Content-Length"])


def test_a_restricted_collection_links_no_record_licence_or_file_even_with_a_token(served, loaded):
    base, settings = served
    with open_catalogue(settings) as conn:
        token = tokens.add(conn, "metadata-test", SAMPLE_CITY)
    doc = requests.get(
        f"{base}/collections/{RESTRICTED}?f=json", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert doc.status_code == 200, "the token should open the restricted collection"
    rels = {x["rel"] for x in doc.json()["links"]}
    assert not rels & {"describedby", "enclosure", "license"}, rels
    assert collection_links.for_theme(RESTRICTED, _published(settings), settings, base) == []
    for svc in service_records.offered(True):
        fid = service_records.file_identifier(svc.key)
        record = requests.get(f"{base}/metadata/{fid}.xml", timeout=10)
        assert record.status_code == 200 or svc.kind == "view"  # the WMS's only where QGIS Server runs
        assert RESTRICTED not in record.text and datasets.file_identifier(SAMPLE_CITY, RESTRICTED) not in record.text


def test_service_records_are_in_the_csw(served):
    from owslib.csw import CatalogueServiceWeb

    base, _ = served
    catalogue = CatalogueServiceWeb(f"{base}/csw", timeout=30)
    ids = [service_records.file_identifier(k) for k in ("csw", "ogcapi", "atom")]
    catalogue.getrecordbyid(id=ids, outputschema="http://www.isotc211.org/2005/gmd")
    assert set(ids) <= set(catalogue.records)
    assert {catalogue.records[i].hierarchy for i in ids} == {"service"}
