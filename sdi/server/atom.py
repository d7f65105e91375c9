"""The INSPIRE-style Atom download feed of the bulk files, and its OpenSearch description.

One service feed (`/metadata/atom.xml`) with an entry per public data set: its GeoPackage as an
`enclosure` with size and type, its ISO record as `describedby`, its spatial data set identifier
(INSPIRE Technical Guidance for download services, Atom implementation) and its extent. Built with lxml,
which escapes every text; restricted themes never reach it (sdi.server.datasets leaves them out).
"""

from __future__ import annotations

from lxml import etree

from sdi.core.settings import Settings
from sdi.server import records
from sdi.server.datasets import Dataset
from sdi.server.downloads import GPKG

ATOM = "http://www.w3.org/2005/Atom"
NSMAP = {
    None: ATOM,
    "georss": "http://www.georss.org/georss",
    "inspire_dls": "http://inspire.ec.europa.eu/schemas/inspire_dls/1.0",
}
OPENSEARCH = "http://a9.com/-/spec/opensearch/1.1/"


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    prefix, _, name = tag.rpartition(":")
    child = etree.SubElement(parent, f"{{{NSMAP[prefix or None]}}}{name}", attrs)
    if text is not None:
        child.text = text
    return child


def service_feed(datasets: list[Dataset], settings: Settings, base: str) -> bytes:
    """The Atom service feed: one entry per data set with a bulk file."""
    feed = etree.Element(f"{{{ATOM}}}feed", nsmap=NSMAP)
    feed.set("{http://www.w3.org/XML/1998/namespace}lang", "pl")
    _sub(feed, "title", "SIP – usługa pobierania plików / SDI bulk download service")
    _sub(feed, "subtitle", "Pliki GeoPackage zbiorów danych gmin / GeoPackages of the municipal data sets")
    _sub(feed, "id", f"{base}/metadata/atom.xml")
    _sub(feed, "link", rel="self", href=f"{base}/metadata/atom.xml", type="application/atom+xml")
    _sub(
        feed,
        "link",
        rel="search",
        href=f"{base}/metadata/opensearch.xml",
        type="application/opensearchdescription+xml",
        title="OpenSearch",
    )
    _sub(
        feed,
        "link",
        rel="describedby",
        href=f"{base}/csw?service=CSW&version=2.0.2&request=GetCapabilities",
        type="application/xml",
        title="CSW",
    )
    _sub(feed, "rights", "CC-BY 4.0")
    _sub(feed, "updated", max((f"{d.updated:%Y-%m-%dT%H:%M:%SZ}" for d in datasets), default=records.now()))
    author = _sub(feed, "author")
    _sub(author, "name", "Administrator SIP")
    for ds in datasets:
        if ds.downloads:
            _entry(feed, ds, settings, base)
    return etree.tostring(feed, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _entry(feed: etree._Element, ds: Dataset, settings: Settings, base: str) -> None:
    entry = _sub(feed, "entry")
    title = f"{ds.schema.title.pl} – {records.city_name(settings, ds.city)['pl']}"
    _sub(entry, "title", title)
    _sub(entry, "id", f"{base}/metadata/atom.xml#{ds.file_identifier}")
    _sub(entry, "inspire_dls:spatial_dataset_identifier_code", ds.register_id or ds.file_identifier)
    _sub(entry, "inspire_dls:spatial_dataset_identifier_namespace", "urn:uuid" if not ds.register_id else "PL")
    _sub(entry, "link", rel="describedby", href=records.links(ds, base)["record"], type="application/xml")
    for path, size in sorted(ds.downloads.items()):
        _sub(
            entry,
            "link",
            rel="enclosure",
            href=f"{base}{path}",
            type=GPKG,
            length=str(size),
            title=f"{title} (GeoPackage, EPSG:2180)",
            hreflang="pl",
        )
    _sub(entry, "summary", records.abstract(ds, settings)["pl"])
    _sub(entry, "updated", f"{ds.updated:%Y-%m-%dT%H:%M:%SZ}")
    _sub(entry, "category", term="http://www.opengis.net/def/crs/EPSG/0/2180", label="PL-1992 (EPSG:2180)")
    w, s, e, n = ds.bbox
    _sub(entry, "georss:polygon", f"{s} {w} {n} {w} {n} {e} {s} {e} {s} {w}")


def opensearch(base: str) -> bytes:
    """The OpenSearch description the Atom feed points to: searches go to the CSW's full-text query."""
    root = etree.Element(f"{{{OPENSEARCH}}}OpenSearchDescription", nsmap={None: OPENSEARCH})
    for tag, text in (
        ("ShortName", "SIP"),
        ("Description", "Wyszukiwanie zbiorów danych SIP / SDI data set search"),
        ("Tags", "SIP INSPIRE"),
        ("Contact", "sip@example.gov.pl"),
        ("Language", "pl"),
    ):
        etree.SubElement(root, f"{{{OPENSEARCH}}}{tag}").text = text
    template = f"{base}/csw?service=CSW&version=3.0.0&request=GetRecords&mode=opensearch&q={{searchTerms}}"
    etree.SubElement(root, f"{{{OPENSEARCH}}}Url", type="application/atom+xml", template=template)
    etree.SubElement(
        root,
        f"{{{OPENSEARCH}}}Url",
        type="application/opensearchdescription+xml",
        rel="self",
        template=f"{base}/metadata/opensearch.xml",
    )
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
