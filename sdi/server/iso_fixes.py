"""What INSPIRE's metadata technical guidelines ask of an ISO 19139 record and pygeometa 0.19's template does
not write, added with lxml to the parsed record (sdi.server.records): the register's identifier
(MD_Identifier) in the citation, the storage CRS, the metadata contact's role, the locale's id and the
conformity statement. lxml escapes every text it is given.
"""

from __future__ import annotations

from lxml import etree

NS = {
    "gmd": "http://www.isotc211.org/2005/gmd",
    "gco": "http://www.isotc211.org/2005/gco",
    "gmx": "http://www.isotc211.org/2005/gmx",
    "xlink": "http://www.w3.org/1999/xlink",
}
# Regulation 1089/2010, the specification INSPIRE's conformity statement cites.
_SPEC = (
    "ROZPORZĄDZENIE KOMISJI (UE) NR 1089/2010 z dnia 23 listopada 2010 r. w sprawie wykonania dyrektywy "
    "2007/2/WE Parlamentu Europejskiego i Rady w zakresie interoperacyjności zbiorów i usług danych "
    "przestrzennych"
)


def _el(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    prefix, _, name = tag.partition(":")
    child = etree.SubElement(
        parent,
        f"{{{NS[prefix]}}}{name}",
        {(f"{{{NS[k.split('_')[0]]}}}{k.split('_')[1]}" if "_" in k else k): v for k, v in attrs.items()},
    )
    if text is not None:
        child.text = text
    return child


def fix(root: etree._Element, identifier: str) -> None:
    """What INSPIRE asks and pygeometa 0.19's template does not write; lxml escapes every text."""
    for locale in root.iterfind(".//gmd:PT_Locale", NS):
        locale.set("id", "eng")  # the template names it locale-fr while the texts point to #eng
    for role in root.iterfind("gmd:contact//gmd:CI_RoleCode", NS):
        role.set("codeListValue", "pointOfContact")
        role.text = "pointOfContact"
    for code in root.iterfind(".//gmd:referenceSystemInfo//gmd:code/gco:CharacterString", NS):
        code.text = "http://www.opengis.net/def/crs/EPSG/0/2180"  # the storage CRS, not the bbox's
    citation = root.find("gmd:identificationInfo/*/gmd:citation/gmd:CI_Citation", NS)
    ident = etree.Element(f"{{{NS['gmd']}}}identifier")
    last_date = citation.findall("gmd:date", NS)[-1]
    last_date.addnext(ident)
    md = _el(ident, "gmd:MD_Identifier")
    code = _el(md, "gmd:code")
    # The national register's identifier once the administrator has set it; until then the record's own.
    _el(code, "gco:CharacterString", identifier)
    _conformity(root)


def _conformity(root: etree._Element) -> None:
    """The INSPIRE conformity statement (TG requirement 1.3.x): not evaluated against 1089/2010."""
    quality = root.find("gmd:dataQualityInfo/gmd:DQ_DataQuality", NS)
    if quality is None:
        return
    report = etree.Element(f"{{{NS['gmd']}}}report")
    quality.find("gmd:scope", NS).addnext(report)
    result = _el(_el(_el(report, "gmd:DQ_DomainConsistency"), "gmd:result"), "gmd:DQ_ConformanceResult")
    cite = _el(_el(result, "gmd:specification"), "gmd:CI_Citation")
    _el(_el(cite, "gmd:title"), "gco:CharacterString", _SPEC)
    date = _el(_el(cite, "gmd:date"), "gmd:CI_Date")
    _el(_el(date, "gmd:date"), "gco:Date", "2010-12-08")
    _el(
        _el(date, "gmd:dateType"),
        "gmd:CI_DateTypeCode",
        "publication",
        codeList="http://standards.iso.org/iso/19139/resources/gmxCodelists.xml#CI_DateTypeCode",
        codeListValue="publication",
    )
    _el(_el(result, "gmd:explanation"), "gco:CharacterString", "Zbiór nie był oceniany / not evaluated")
    _el(result, "gmd:pass").set(f"{{{NS['gco']}}}nilReason", "unknown")
