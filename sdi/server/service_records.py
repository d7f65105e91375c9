"""ISO 19139 records of the services themselves (discovery, view, download), for the national register.

The IIP act (art. 13) registers services as well as data sets, and the INSPIRE metadata guidelines ask each
network service for a record with srv:SV_ServiceIdentification: its type (discovery, view, download), its
ISO 19119 classification keyword, the data sets it operates on, its operations and where to reach them.
pygeometa 0.19 cannot write SV_ServiceIdentification, so these few records come from the small template
below. Every value goes in through `_x` (markupsafe's escape, which also escapes quotes for attributes),
and the result is parsed again with lxml, so a malformed record fails here, never in a harvester.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from lxml import etree
from markupsafe import escape

from sdi.core.settings import Settings
from sdi.server import records
from sdi.server.datasets import ALL, NAMESPACE, Dataset

POLAND = (14.07, 49.0, 24.15, 54.84)  # the bbox of a service with no data set yet
# Commission Regulation 976/2009 on network services: the conformity a service's record states.
_SPEC = (
    "ROZPORZĄDZENIE KOMISJI (WE) NR 976/2009 z dnia 19 października 2009 r. w sprawie wykonania dyrektywy "
    "2007/2/WE Parlamentu Europejskiego i Rady w zakresie usług sieciowych"
)


@dataclass(frozen=True)
class NetworkService:
    """One service as its record describes it."""

    key: str  # stable: the fileIdentifier is derived from it
    kind: str  # INSPIRE spatial data service type: discovery, view, download
    classification: str  # ISO 19119 keyword, as the INSPIRE guidelines list them
    version: str
    title: tuple[str, str]  # Polish, English
    path: str  # where the service answers, below the public address
    operations: tuple[str, ...]
    coupling: str  # tight: it serves the data sets it operates on; loose: it only describes them


SERVICES = (
    NetworkService(
        "csw",
        "discovery",
        "infoCatalogueService",
        "OGC:CSW 2.0.2",
        ("Usługa wyszukiwania (CSW) SIP", "SDI discovery service (CSW)"),
        "/csw?service=CSW&version=2.0.2&request=GetCapabilities",
        ("GetCapabilities", "DescribeRecord", "GetRecords", "GetRecordById"),
        "loose",
    ),
    NetworkService(
        "wms",
        "view",
        "infoMapAccessService",
        "OGC:WMS 1.3.0",
        ("Usługa przeglądania (WMS) SIP", "SDI view service (WMS)"),
        "/wms?service=WMS&version=1.3.0&request=GetCapabilities",
        ("GetCapabilities", "GetMap", "GetFeatureInfo"),
        "tight",
    ),
    NetworkService(
        "ogcapi",
        "download",
        "infoFeatureAccessService",
        "OGC API - Features - Part 1: Core 1.0",
        ("Usługa pobierania (OGC API Features) SIP", "SDI download service (OGC API Features)"),
        "/",
        ("GetLandingPage", "GetCollections", "GetFeatures", "GetFeature"),
        "tight",
    ),
    NetworkService(
        "atom",
        "download",
        "infoProductAccessService",
        "INSPIRE Atom download service 1.0",
        ("Usługa pobierania plików (Atom) SIP", "SDI bulk download service (Atom)"),
        "/metadata/atom.xml",
        ("GetDownloadServiceMetadata", "GetSpatialDataSet"),
        "tight",
    ),
)


def file_identifier(key: str) -> str:
    """A service record's fileIdentifier: derived once from its key, like a data set's."""
    return str(uuid.uuid5(NAMESPACE, f"service/{key}"))


def offered(view: bool) -> list[NetworkService]:
    """The services this server runs: the WMS only where QGIS Server is installed."""
    return [s for s in SERVICES if view or s.kind != "view"]


def _x(value: object) -> str:
    return str(escape(str(value)))


def iso19139(svc: NetworkService, found: list[Dataset], settings: Settings, base: str) -> bytes:
    """The service's ISO 19139 record (UTF-8 XML), every value escaped, checked well-formed."""
    meta = records.config(settings.config_dir.resolve())
    contact = {**(meta.get("default") or {})}
    org = contact.get("organization") or {"pl": "Administrator SIP", "en": "SDI administrator"}
    email = contact.get("email") or "sip@example.gov.pl"
    licence = meta.get("license") or {"name": "CC-BY 4.0", "url": "https://creativecommons.org/licenses/by/4.0/"}
    operates = [d for d in found if d.city == ALL] if svc.kind != "discovery" else found
    boxes = [d.bbox for d in found] or [POLAND]
    bbox = (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    party = _PARTY.format(org=_x(org.get("pl", org) if isinstance(org, dict) else org), email=_x(email))
    values = {
        "id": _x(file_identifier(svc.key)),
        "party": party,
        "today": _x(today),
        "kind": _x(svc.kind),
        "title": _x(svc.title[0]),
        "title_en": _x(svc.title[1]),
        "version": _x(svc.version),
        "abstract": _x(
            f"{svc.title[0]}: {svc.version}, pod adresem {base}{svc.path}. "
            f"Obejmuje {len(operates)} zbiorów danych przestrzennych gmin."
        ),
        "abstract_en": _x(
            f"{svc.title[1]}: {svc.version}, at {base}{svc.path}. Covers {len(operates)} municipal spatial data sets."
        ),
        "classification": _x(svc.classification),
        "coupling": _x(svc.coupling),
        "licence": _x(f"Licencja {licence['name']}: {licence['url']}"),
        "licence_url": _x(licence["url"]),
        "west": bbox[0],
        "south": bbox[1],
        "east": bbox[2],
        "north": bbox[3],
        "operations": "".join(_OPERATION.format(name=_x(op), url=_x(f"{base}{svc.path}")) for op in svc.operations),
        "operates": "".join(
            _OPERATES.format(uuid=_x(d.file_identifier), url=_x(records.links(d, base)["csw"])) for d in operates
        ),
        "url": _x(f"{base}{svc.path}"),
        "spec": _x(_SPEC),
    }
    text = _RECORD.format(**values)
    root = etree.fromstring(text.encode("utf-8"), etree.XMLParser(resolve_entities=False, no_network=True))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


_CS = "<gco:CharacterString>{}</gco:CharacterString>"
_PARTY = (
    "<gmd:CI_ResponsibleParty><gmd:organisationName>" + _CS.format("{org}") + "</gmd:organisationName>"
    "<gmd:contactInfo><gmd:CI_Contact><gmd:address><gmd:CI_Address><gmd:electronicMailAddress>"
    + _CS.format("{email}")
    + "</gmd:electronicMailAddress></gmd:CI_Address></gmd:address></gmd:CI_Contact>"
    '</gmd:contactInfo><gmd:role><gmd:CI_RoleCode codeList="http://standards.iso.org/iso/19139/resources/'
    'gmxCodelists.xml#CI_RoleCode" codeListValue="pointOfContact">pointOfContact</gmd:CI_RoleCode>'
    "</gmd:role></gmd:CI_ResponsibleParty>"
)
_OPERATION = (
    "<srv:containsOperations><srv:SV_OperationMetadata><srv:operationName>"
    + _CS.format("{name}")
    + '</srv:operationName><srv:DCP><srv:DCPList codeList="http://standards.iso.org/iso/19139/resources/'
    'gmxCodelists.xml#DCPList" codeListValue="WebServices">WebServices</srv:DCPList></srv:DCP>'
    "<srv:connectPoint><gmd:CI_OnlineResource><gmd:linkage><gmd:URL>{url}</gmd:URL></gmd:linkage>"
    "</gmd:CI_OnlineResource></srv:connectPoint></srv:SV_OperationMetadata></srv:containsOperations>"
)
_OPERATES = '<srv:operatesOn uuidref="{uuid}" xlink:href="{url}"/>'
_CODE = 'codeList="http://standards.iso.org/iso/19139/resources/gmxCodelists.xml#{0}" codeListValue="{1}">{1}'
_RECORD = (
    """<?xml version="1.0" encoding="UTF-8"?>
<gmd:MD_Metadata xmlns:gmd="http://www.isotc211.org/2005/gmd" xmlns:gco="http://www.isotc211.org/2005/gco"
 xmlns:srv="http://www.isotc211.org/2005/srv" xmlns:gmx="http://www.isotc211.org/2005/gmx"
 xmlns:gml="http://www.opengis.net/gml" xmlns:xlink="http://www.w3.org/1999/xlink">
<gmd:fileIdentifier><gco:CharacterString>{id}</gco:CharacterString></gmd:fileIdentifier>
<gmd:language><gmd:LanguageCode codeList="http://www.loc.gov/standards/iso639-2/" \
codeListValue="pol">pol</gmd:LanguageCode></gmd:language>
<gmd:characterSet><gmd:MD_CharacterSetCode """
    + _CODE.format("MD_CharacterSetCode", "utf8")
    + """</gmd:MD_CharacterSetCode></gmd:characterSet>
<gmd:hierarchyLevel><gmd:MD_ScopeCode """
    + _CODE.format("MD_ScopeCode", "service")
    + """</gmd:MD_ScopeCode>\
</gmd:hierarchyLevel>
<gmd:hierarchyLevelName><gco:CharacterString>usługa</gco:CharacterString></gmd:hierarchyLevelName>
<gmd:contact>{party}</gmd:contact>
<gmd:dateStamp><gco:Date>{today}</gco:Date></gmd:dateStamp>
<gmd:metadataStandardName><gco:CharacterString>ISO 19119</gco:CharacterString></gmd:metadataStandardName>
<gmd:metadataStandardVersion><gco:CharacterString>2005/PDAM 1</gco:CharacterString></gmd:metadataStandardVersion>
<gmd:identificationInfo><srv:SV_ServiceIdentification>
<gmd:citation><gmd:CI_Citation><gmd:title><gco:CharacterString>{title}</gco:CharacterString></gmd:title>
<gmd:alternateTitle><gco:CharacterString>{title_en}</gco:CharacterString></gmd:alternateTitle>
<gmd:date><gmd:CI_Date><gmd:date><gco:Date>{today}</gco:Date></gmd:date><gmd:dateType><gmd:CI_DateTypeCode """
    + _CODE.format("CI_DateTypeCode", "revision")
    + """</gmd:CI_DateTypeCode></gmd:dateType></gmd:CI_Date></gmd:date>
</gmd:CI_Citation></gmd:citation>
<gmd:abstract><gco:CharacterString>{abstract} / {abstract_en}</gco:CharacterString></gmd:abstract>
<gmd:pointOfContact>{party}</gmd:pointOfContact>
<gmd:descriptiveKeywords><gmd:MD_Keywords><gmd:keyword><gco:CharacterString>{classification}</gco:CharacterString></gmd:keyword>
<gmd:thesaurusName><gmd:CI_Citation><gmd:title><gco:CharacterString>Part D 4, Classification of Spatial data Services \
(Regulation 1205/2008)</gco:CharacterString></gmd:title>
<gmd:date><gmd:CI_Date><gmd:date><gco:Date>2008-12-03</gco:Date></gmd:date><gmd:dateType><gmd:CI_DateTypeCode """
    + _CODE.format("CI_DateTypeCode", "publication")
    + """</gmd:CI_DateTypeCode></gmd:dateType></gmd:CI_Date></gmd:date>
</gmd:CI_Citation></gmd:thesaurusName></gmd:MD_Keywords></gmd:descriptiveKeywords>
<gmd:resourceConstraints><gmd:MD_Constraints><gmd:useLimitation><gco:CharacterString>{licence}</gco:CharacterString></gmd:useLimitation></gmd:MD_Constraints></gmd:resourceConstraints>
<gmd:resourceConstraints><gmd:MD_LegalConstraints><gmd:accessConstraints><gmd:MD_RestrictionCode """
    + _CODE.format("MD_RestrictionCode", "otherRestrictions")
    + """</gmd:MD_RestrictionCode></gmd:accessConstraints>
<gmd:otherConstraints><gmx:Anchor xlink:href="{licence_url}">{licence}</gmx:Anchor></gmd:otherConstraints>\
</gmd:MD_LegalConstraints></gmd:resourceConstraints>
<srv:serviceType><gco:LocalName>{kind}</gco:LocalName></srv:serviceType>
<srv:serviceTypeVersion><gco:CharacterString>{version}</gco:CharacterString></srv:serviceTypeVersion>
<srv:extent><gmd:EX_Extent><gmd:geographicElement><gmd:EX_GeographicBoundingBox>
<gmd:westBoundLongitude><gco:Decimal>{west:.6f}</gco:Decimal></gmd:westBoundLongitude><gmd:eastBoundLongitude><gco:Decimal>{east:.6f}</gco:Decimal></gmd:eastBoundLongitude>
<gmd:southBoundLatitude><gco:Decimal>{south:.6f}</gco:Decimal></gmd:southBoundLatitude><gmd:northBoundLatitude><gco:Decimal>{north:.6f}</gco:Decimal></gmd:northBoundLatitude>
</gmd:EX_GeographicBoundingBox></gmd:geographicElement></gmd:EX_Extent></srv:extent>
<srv:couplingType><srv:SV_CouplingType \
codeList="http://standards.iso.org/iso/19139/resources/gmxCodelists.xml#SV_CouplingType" \
codeListValue="{coupling}">{coupling}</srv:SV_CouplingType></srv:couplingType>
{operations}{operates}
</srv:SV_ServiceIdentification></gmd:identificationInfo>
<gmd:distributionInfo><gmd:MD_Distribution><gmd:transferOptions><gmd:MD_DigitalTransferOptions><gmd:onLine><gmd:CI_OnlineResource>
<gmd:linkage><gmd:URL>{url}</gmd:URL></gmd:linkage></gmd:CI_OnlineResource></gmd:onLine></gmd:MD_DigitalTransferOptions></gmd:transferOptions></gmd:MD_Distribution></gmd:distributionInfo>
<gmd:dataQualityInfo><gmd:DQ_DataQuality><gmd:scope><gmd:DQ_Scope><gmd:level><gmd:MD_ScopeCode """
    + _CODE.format("MD_ScopeCode", "service")
    + """</gmd:MD_ScopeCode></gmd:level>
<gmd:levelDescription><gmd:MD_ScopeDescription><gmd:other><gco:CharacterString>usługa</gco:CharacterString></gmd:other></gmd:MD_ScopeDescription></gmd:levelDescription></gmd:DQ_Scope></gmd:scope>
<gmd:report><gmd:DQ_DomainConsistency><gmd:result><gmd:DQ_ConformanceResult><gmd:specification><gmd:CI_Citation>
<gmd:title><gco:CharacterString>{spec}</gco:CharacterString></gmd:title>
<gmd:date><gmd:CI_Date><gmd:date><gco:Date>2009-10-20</gco:Date></gmd:date><gmd:dateType><gmd:CI_DateTypeCode """
    + _CODE.format("CI_DateTypeCode", "publication")
    + """</gmd:CI_DateTypeCode></gmd:dateType></gmd:CI_Date></gmd:date>
</gmd:CI_Citation></gmd:specification><gmd:explanation><gco:CharacterString>Usługa nie była oceniana / not \
evaluated</gco:CharacterString></gmd:explanation>
<gmd:pass gco:nilReason="unknown"/></gmd:DQ_ConformanceResult></gmd:result></gmd:DQ_DomainConsistency></gmd:report>
</gmd:DQ_DataQuality></gmd:dataQualityInfo>
</gmd:MD_Metadata>
"""
)
