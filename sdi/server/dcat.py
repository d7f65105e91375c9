"""The DCAT-AP catalogue (JSON-LD, /metadata/catalogue.jsonld) of the open data sets, for the national open data
portal (dane.gov.pl) to harvest; the ISO records beside it are sdi.server.records'."""

from __future__ import annotations

from typing import Any

from sdi.core.settings import Settings
from sdi.server.datasets import Dataset
from sdi.server.records import INSPIRE, abstract, city_name, config, links

#: The INSPIRE theme's short name in its register URI (http://inspire.ec.europa.eu/theme/<id>).
_INSPIRE_IDS = {
    "Administrative units": "au",
    "Addresses": "ad",
    "Cadastral parcels": "cp",
    "Buildings": "bu",
    "Transport networks": "tn",
    "Utility and governmental services": "us",
    "Land use": "lu",
    "Land cover": "lc",
    "Protected sites": "ps",
    "Elevation": "el",
    "Orthoimagery": "oi",
    "Human health and safety": "hh",
    "Natural risk zones": "nz",
}


def catalogue(datasets: list[Dataset], settings: Settings, base: str) -> dict:
    """A DCAT-AP catalogue (JSON-LD) of the open data sets, for the national open data portal to harvest.

    Written here rather than with pygeometa 0.19's DCAT writer, which needs a URL in every contact and
    drops multilingual keywords; json escapes every text.
    """
    licence = (config(settings.config_dir.resolve()).get("license") or {}).get(
        "url", "https://creativecommons.org/licenses/by/4.0/"
    )
    entries = []
    for ds in datasets:
        url, about = links(ds, base), abstract(ds, settings)
        where = city_name(settings, ds.city)
        w, s, e, n = ds.bbox
        distributions: list[dict[str, Any]] = [
            {
                "@type": "dcat:Distribution",
                "dcat:accessURL": {"@id": url["api"]},
                "dct:format": "OGC API",
                "dct:license": {"@id": licence},
            }
        ]
        distributions += [
            {
                "@type": "dcat:Distribution",
                "dcat:downloadURL": {"@id": f"{base}{path}"},
                "dcat:mediaType": "application/geopackage+sqlite3",
                "dcat:byteSize": size,
                "dct:license": {"@id": licence},
            }
            for path, size in sorted(ds.downloads.items())
        ]
        entries.append(
            {
                "@id": url["record"],
                "@type": "dcat:Dataset",
                "dct:identifier": ds.register_id or ds.file_identifier,
                "dct:title": [
                    {"@language": "pl", "@value": f"{ds.schema.title.pl} – {where['pl']}"},
                    {"@language": "en", "@value": f"{ds.schema.title.en} – {where['en']}"},
                ],
                "dct:description": [{"@language": k, "@value": v} for k, v in about.items()],
                "dcat:theme": {
                    "@id": "http://inspire.ec.europa.eu/theme/"
                    + _INSPIRE_IDS.get(INSPIRE.get(ds.theme, ("", "Land use"))[1], "lu")
                },
                "dcat:keyword": [ds.theme, *INSPIRE.get(ds.theme, ("", ""))[:2]],
                "dct:modified": f"{ds.updated:%Y-%m-%d}",
                "dct:license": {"@id": licence},
                "dct:spatial": {
                    "@type": "dct:Location",
                    "dcat:bbox": f"POLYGON(({w} {s},{e} {s},{e} {n},{w} {n},{w} {s}))",
                },
                "dcat:distribution": distributions,
            }
        )
    return {
        "@context": {"dcat": "http://www.w3.org/ns/dcat#", "dct": "http://purl.org/dc/terms/"},
        "@id": f"{base}/metadata/catalogue.jsonld",
        "@type": "dcat:Catalog",
        "dct:title": [
            {"@language": "pl", "@value": "SIP – katalog zbiorów danych"},
            {"@language": "en", "@value": "SDI data set catalogue"},
        ],
        "dcat:dataset": entries,
    }
