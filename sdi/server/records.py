"""ISO 19115/19139 records and DCAT of the published data sets, written with pygeometa from the catalogue.

Each data set becomes one MCF (pygeometa's metadata control file) built here, then ISO 19139 XML through
pygeometa's template, then a few fixes with lxml where pygeometa 0.19's template falls short of the INSPIRE
metadata technical guidelines (sdi.server.iso_fixes).

pygeometa renders with Jinja2 without autoescaping, and escapes only some fields. Every text is therefore
escaped here before it reaches the template (`_safe`), as markupsafe.Markup so that the fields pygeometa
does escape are not escaped twice. A source named `a</gco:CharacterString><x>` stays text.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

import yaml
from lxml import etree
from markupsafe import Markup, escape

from sdi.core.errors import ConfigError
from sdi.core.settings import Settings
from sdi.server import iso_template
from sdi.server.datasets import ALL, Dataset
from sdi.server.iso_fixes import fix

logger = logging.getLogger(__name__)

LANGS = {"pl": "pol", "en": "eng"}
# theme -> (INSPIRE theme in Polish and English, as GEMET names them; ISO topic category)
INSPIRE = {
    "administrative_units": ("Jednostki administracyjne", "Administrative units", "boundaries"),
    "address_points": ("Adresy", "Addresses", "location"),
    "parcels": ("Działki katastralne", "Cadastral parcels", "planningCadastre"),
    "buildings": ("Budynki", "Buildings", "structure"),
    "roads": ("Sieci transportowe", "Transport networks", "transportation"),
    "cycle_paths": ("Sieci transportowe", "Transport networks", "transportation"),
    "public_transport_stops": ("Sieci transportowe", "Transport networks", "transportation"),
    "public_services": (
        "Usługi użyteczności publicznej i służby państwowe",
        "Utility and governmental services",
        "society",
    ),
    "green_areas": ("Zagospodarowanie przestrzenne", "Land use", "environment"),
    "trees": ("Użytkowanie terenu", "Land cover", "environment"),
    "protected_nature": ("Obszary chronione", "Protected sites", "environment"),
    "utility_networks": (
        "Usługi użyteczności publicznej i służby państwowe",
        "Utility and governmental services",
        "utilitiesCommunication",
    ),
    "land_use_plans": ("Zagospodarowanie przestrzenne", "Land use", "planningCadastre"),
    "plan_drawing": ("Zagospodarowanie przestrzenne", "Land use", "planningCadastre"),
    "elevation": ("Ukształtowanie terenu", "Elevation", "elevation"),
    "orthophoto": ("Ortoobrazy", "Orthoimagery", "imageryBaseMapsEarthCover"),
    "noise_map": ("Zdrowie i bezpieczeństwo ludzi", "Human health and safety", "health"),
    "flood_hazard": ("Strefy zagrożenia naturalnego", "Natural risk zones", "inlandWaters"),
}
_GEOMTYPES = {"Point": "point", "MultiPoint": "point", "MultiLineString": "curve", "MultiPolygon": "surface"}


@lru_cache(maxsize=4)
def config(config_dir: Path) -> dict:
    """config/metadata.yaml: the licence and each gmina's responsible party."""
    path = config_dir / "metadata.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else {}


# What a public address may be: scheme, host, port and path, nothing that could end a line of pycsw's config,
# open an nginx directive or carry a password (SDI_PUBLIC_URL reaches all three and every record).
_PUBLIC_URL = re.compile(r"https?://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?")


def public_url(settings: Settings, fallback: str) -> str:
    """The address clients reach `sdi serve` at: SDI_PUBLIC_URL behind a proxy, else `fallback` (http://host:port)."""
    url = (settings.public_url or "").strip() or fallback
    if not _PUBLIC_URL.fullmatch(url):
        raise ConfigError(
            f"SDI_PUBLIC_URL (or --url) {url!r} is not a plain http(s) address",
            "set it to the address clients use, e.g. SDI_PUBLIC_URL=https://sip.gmina.gov.pl "
            "(scheme, host, optional port and path; no user, query or fragment)",
        )
    return url.rstrip("/")


def links(ds: Dataset, base: str) -> dict[str, str]:
    """The public URLs of a data set: its record, its API collection and its downloads (no server path)."""
    api = f"{base}/collections/{ds.theme}" + ("" if ds.city == ALL else f"/items?city={ds.city}")
    return {
        "record": f"{base}/metadata/{ds.file_identifier}.xml",
        "api": api,
        "csw": f"{base}/csw?service=CSW&version=2.0.2&request=GetRecordById&id={ds.file_identifier}"
        "&outputschema=http://www.isotc211.org/2005/gmd&elementsetname=full",
    }


def city_name(settings: Settings, city: str) -> dict[str, str]:
    """A gmina's name in Polish and English, from config/metadata.yaml (else its TERYT code)."""
    if city == ALL:
        return {"pl": "wszystkie gminy", "en": "all municipalities"}
    entry = (config(settings.config_dir.resolve()).get("cities") or {}).get(city) or {}
    name = entry.get("name") or {}
    return {"pl": name.get("pl", f"gmina {city}"), "en": name.get("en", f"municipality {city}")}


def abstract(ds: Dataset, settings: Settings) -> dict[str, str]:
    """The data set's abstract in Polish and English: what it holds, where, how much, since when."""
    about = ds.schema.description or ds.schema.title
    where, when = city_name(settings, ds.city), f"{ds.updated:%Y-%m-%d}"
    unit = ("rastry", "rasters") if ds.raster else ("obiektów", "features")
    return {
        "pl": f"{about.pl} Obszar: {where['pl']} (TERYT {ds.city if ds.city != ALL else 'cały kraj'}). "
        f"{ds.count} {unit[0]}, stan na {when}. Układ przechowywania PL-1992 (EPSG:2180).",
        "en": f"{about.en} Area: {where['en']} (TERYT {ds.city if ds.city != ALL else 'whole country'}). "
        f"{ds.count} {unit[1]}, as of {when}. Stored in PL-1992 (EPSG:2180).",
    }


def mcf(ds: Dataset, settings: Settings, base: str) -> dict:
    """The pygeometa MCF of one data set (plain text: `iso19139` escapes it)."""
    meta = config(settings.config_dir.resolve())
    where = city_name(settings, ds.city)
    title = {"pol": f"{ds.schema.title.pl} – {where['pl']}", "eng": f"{ds.schema.title.en} – {where['en']}"}
    inspire_pl, inspire_en, topic = INSPIRE.get(
        ds.theme, ("Zagospodarowanie przestrzenne", "Land use", "planningCadastre")
    )
    url = links(ds, base)
    licence = meta.get("license") or {"name": "CC-BY 4.0", "url": "https://creativecommons.org/licenses/by/4.0/"}
    distribution = {
        "api": {
            "url": url["api"],
            "type": "OGC API - Features" if not ds.raster else "OGC API - Coverages",
            "name": _lang(ds.schema.title.model_dump()),
            "function": "download",
            "description": {"pol": "Usługa pobierania (OGC API)", "eng": "Download service (OGC API)"},
        }
    }
    for i, (path, size) in enumerate(sorted(ds.downloads.items())):
        distribution[f"file{i}"] = {
            "url": f"{base}{path}",
            "type": "WWW:DOWNLOAD-1.0-http--download",
            "function": "download",
            "name": {"pol": f"{Path(path).name} ({size} B)", "eng": f"{Path(path).name} ({size} bytes)"},
            "description": {"pol": "Plik do pobrania w całości", "eng": "Bulk download"},
        }
    return {
        "mcf": {"version": "1.0"},
        "metadata": {
            "identifier": ds.file_identifier,
            "language": "pol",
            "language_alternate": "eng",
            "charset": "utf8",
            "hierarchylevel": "dataset",
            "datestamp": f"{ds.updated:%Y-%m-%d}",
            "dataseturi": url["api"],
        },
        "spatial": {
            "datatype": "grid" if ds.raster else "vector",
            "geomtype": _GEOMTYPES.get(getattr(ds.schema, "geometry", ""), "complex"),
        },
        "identification": {
            "language": "pol",
            "charset": "utf8",
            "title": title,
            "abstract": {LANGS[k]: v for k, v in abstract(ds, settings).items()},
            "dates": {
                "publication": f"{min(x.loaded_at for x in ds.loads):%Y-%m-%d}",
                "revision": f"{ds.updated:%Y-%m-%d}",
            },
            "keywords": {
                "inspire": {
                    "keywords": {"pol": [inspire_pl], "eng": [inspire_en]},
                    "keywords_type": "theme",
                    "vocabulary": {
                        "name": {
                            "pol": "GEMET - INSPIRE themes, version 1.0",
                            "eng": "GEMET - INSPIRE themes, version 1.0",
                        }
                    },
                },
                "sdi": {
                    "keywords": {"pol": [ds.theme, "SIP", ds.city], "eng": [ds.theme, "SDI", ds.city]},
                    "keywords_type": "theme",
                },
            },
            "topiccategory": [topic],
            "extents": {
                "spatial": [{"bbox": [round(v, 6) for v in ds.bbox], "crs": 4326}],
                "temporal": [{"begin": f"{min(x.loaded_at for x in ds.loads):%Y-%m-%d}", "end": "now"}],
            },
            "rights": {
                "pol": f"Licencja {licence['name']}: {licence['url']}",
                "eng": f"Licence {licence['name']}: {licence['url']}",
            },
            "license": {"name": licence["name"], "url": licence["url"]},
            "accessconstraints": "otherRestrictions",
            "status": "onGoing",
            "maintenancefrequency": "asNeeded",
            "url": url["record"],
        },
        "contact": {"metadata": _contact(meta, ds.city), "pointOfContact": _contact(meta, ds.city)},
        "distribution": distribution,
        "dataquality": {"scope": {"level": "dataset"}, "lineage": {"statement": _lineage(ds)}},
    }


def iso19139(ds: Dataset, settings: Settings, base: str) -> bytes:
    """The data set's ISO 19139 record (UTF-8 XML), INSPIRE's required elements included."""
    text = iso_template.render(_safe(mcf(ds, settings, base)))  # pygeometa's template, compiled once
    root = etree.fromstring(
        text.encode("utf-8"), etree.XMLParser(remove_blank_text=True, resolve_entities=False, no_network=True)
    )
    fix(root, ds.register_id or f"urn:uuid:{ds.file_identifier}")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _lang(label: dict) -> dict:
    return {LANGS[k]: v for k, v in label.items() if k in LANGS}


def _contact(meta: dict, city: str) -> dict:
    entry = {**(meta.get("default") or {}), **((meta.get("cities") or {}).get(city) or {})}
    entry.pop("name", None)
    return {k: _lang(v) if isinstance(v, dict) else str(v) for k, v in entry.items()}


def _lineage(ds: Dataset) -> dict[str, str]:
    """The provenance of each city's current version: what the load recorded, file names only."""
    pl, en = [], []
    for x in ds.loads:
        what = (
            f"{x.source_name}{f' (warstwa {x.source_layer})' if x.source_layer else ''}, "
            f"SHA-256 {x.sha256 or '?'}, {x.size or '?'} B, kodowanie {x.encoding or '?'}, CRS {x.crs or '?'}"
        )
        pl.append(
            f"Gmina {x.city}: wczytanie {x.load_id} z {what}; {x.features} obiektów, {x.rejects} odrzuconych; "
            f"wczytał {x.operator or '?'}, {x.loaded_at:%Y-%m-%d %H:%M} UTC."
        )
        what_en = what.replace("warstwa", "layer").replace("kodowanie", "encoding")
        en.append(
            f"Municipality {x.city}: load {x.load_id} from {what_en}; {x.features} features,"
            f" {x.rejects} rejected; by {x.operator or '?'}, {x.loaded_at:%Y-%m-%d %H:%M} UTC."
        )
    note = (
        "Zharmonizowano do wspólnego schematu tematu i przeliczono do EPSG:2180. ",
        "Harmonised to the theme's common schema and reprojected to EPSG:2180. ",
    )
    return {"pol": note[0] + " ".join(pl), "eng": note[1] + " ".join(en)}


def _safe(value: object) -> object:
    """Every text escaped for XML, as Markup so that pygeometa's own `|e` leaves it as it is."""
    if isinstance(value, dict):
        return {k: _safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_safe(v) for v in value]
    if isinstance(value, str) and not isinstance(value, Markup):
        return escape(value)
    return value


def now() -> str:
    """The time stamp of a generation, for logs and feeds."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
