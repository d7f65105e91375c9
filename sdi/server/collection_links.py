"""The links a collection carries to its data set's metadata, licence and bulk files (issue 19).

Per the INSPIRE good practice for OGC API Features: `describedby` to the ISO 19139 record (the theme's
national data set, then each gmina's), `license` to the licence's deed in the reader's language
(pygeoapi picks `href`, `title` and `hreflang` by Accept-Language or `?lang=` from the language maps),
and `enclosure` to each GeoPackage with its type and length (without a length pygeoapi would send itself
a HEAD request per link at every listing). Built from sdi.server.datasets, which never holds a restricted
theme, so a restricted collection gets none of these.
"""

from __future__ import annotations

import logging

import psycopg

from sdi.core.settings import Settings
from sdi.server import downloads, records
from sdi.server.datasets import ALL, Dataset, published

logger = logging.getLogger(__name__)

_CC_BY = "https://creativecommons.org/licenses/by/4.0/"


def served_datasets(conn: psycopg.Connection, settings: Settings, served: bool) -> list[Dataset]:
    """The public data sets, with the bulk files that exist measured when /metadata and /downloads are served.

    Stale or missing files are queued for sdi.server.downloads' writer, never written here: the API's start and
    the catalogue poll do not wait for them, and a file gets its link once it is renamed in. `served` is False
    when the catalogue service cannot run here: then no link may point at it. A failure is logged and costs the
    links only, never the API.
    """
    if not served:
        return []
    try:
        found = published(conn, settings)
        downloads.refresh(settings, found)
    except Exception as exc:  # noqa: BLE001 -- the API serves without these links rather than not at all
        logger.error("collection links to metadata and downloads left out: %s", exc)
        return []
    return found


def for_theme(theme: str, found: list[Dataset], settings: Settings, base: str) -> list[dict]:
    """The describedby, license and enclosure links of one theme's collection; [] for no public data set."""
    mine = sorted((d for d in found if d.theme == theme), key=lambda d: (d.city != ALL, d.city))
    if not mine:
        return []
    links = [_describedby(ds, settings, base) for ds in mine]
    links.append(_license(settings))
    for ds in mine:
        for path, size in sorted(ds.downloads.items()):
            where = records.city_name(settings, ds.city)
            links.append(
                {
                    "type": downloads.GPKG,
                    "rel": "enclosure",
                    "length": size,
                    "href": f"{base}{path}",
                    "title": {
                        "pl": f"Plik GeoPackage (EPSG:2180) – {where['pl']}",
                        "en": f"GeoPackage (EPSG:2180) – {where['en']}",
                    },
                }
            )
    return links


def _describedby(ds: Dataset, settings: Settings, base: str) -> dict:
    where = records.city_name(settings, ds.city)
    # The record is Polish with English alternates (PT_FreeText): its language is Polish whatever is asked.
    return {
        "type": "application/xml",
        "rel": "describedby",
        "href": records.links(ds, base)["record"],
        "hreflang": "pl",
        "title": {"pl": f"Metadane ISO 19139 – {where['pl']}", "en": f"ISO 19139 metadata – {where['en']}"},
    }


def _license(settings: Settings) -> dict:
    licence = records.config(settings.config_dir.resolve()).get("license") or {"name": "CC-BY 4.0", "url": _CC_BY}
    url = str(licence["url"])
    # Creative Commons has a deed per language; another licence keeps its one address for both.
    href = {"pl": f"{url}deed.pl", "en": f"{url}deed.en"} if url == _CC_BY else {"pl": url, "en": url}
    return {
        "type": "text/html",
        "rel": "license",
        "href": href,
        "hreflang": {"pl": "pl", "en": "en"},
        "title": {"pl": f"Licencja {licence['name']}", "en": f"Licence {licence['name']}"},
    }
