"""Publish: the pygeoapi configuration generated from the catalogue (sdi.server.serving runs the server that reads it).

The configuration is derived, never edited by hand: one collection per theme with data.
"""

from __future__ import annotations

import logging
from pathlib import Path

import psycopg
import yaml

from sdi.core import catalogue
from sdi.core.catalogue import open_catalogue
from sdi.core.config import RasterSchema, registry, restricted_themes
from sdi.core.errors import ConfigError
from sdi.core.settings import CRS84, STORAGE_CRS, Settings, get_settings
from sdi.server import collection_links, coverage, csw, openapi, qgis_access_layers, qgis_project, records
from sdi.server.datasets import file_identifier
from sdi.server.labels import plural

logger = logging.getLogger(__name__)

OUTPUT_CRS = [
    CRS84,
    *(f"http://www.opengis.net/def/crs/EPSG/0/{code}" for code in (4326, 2180, 2176, 2177, 2178, 2179, 3857)),
]


def build_config(conn: psycopg.Connection, settings: Settings, host: str, port: int) -> dict:
    """The whole pygeoapi configuration for what the catalogue holds now."""
    server = _yaml(settings.config_dir / "server.yaml")
    # the address clients reach the front at (SDI_PUBLIC_URL behind a proxy): every link pygeoapi writes uses it
    url = records.public_url(settings, f"http://{'[' + host + ']' if ':' in host else host}:{port}")
    # /metadata and /downloads exist only where the catalogue service runs (sdi.server.csw)
    found = collection_links.served_datasets(conn, settings, csw.csw_python(settings).exists())
    resources = {theme: _collection(conn, settings, theme, server) for theme in catalogue.published_themes(conn)}
    for theme, resource in resources.items():
        resource["links"] = collection_links.for_theme(theme, found, settings, url)
    schemas = registry(settings).rasters
    for theme, rasters in catalogue.current_rasters(conn).items():
        # only the rows whose file is the server's own readable COG: a bad row is logged and skipped, never fatal
        rasters = coverage.servable(theme, rasters, settings.raster_dir_abs)
        if theme in schemas and rasters:  # a theme since removed from config/ stays in the catalogue, unpublished
            resources[theme] = _coverage_collection(theme, schemas[theme], rasters, settings, url)
            resources[theme]["links"] += collection_links.for_theme(theme, found, settings, url)
    return {
        "server": {
            "bind": {"host": host, "port": port},
            "url": url,
            "mimetype": "application/json; charset=UTF-8",
            "encoding": "utf-8",
            "gzip": False,
            "languages": ["pl", "en"],
            "pretty_print": False,
            "limits": server.get("limits", {"default_items": 1000, "max_items": 10000}),
            # read-only: no transactions; pygeoapi's admin API stays off
            "cors": settings.cors,
            "admin": False,
            "map": server["map"],
        },
        "logging": {"level": "ERROR"},
        "metadata": {
            "identification": {
                "title": server["title"],
                "description": server["description"],
                "keywords": server.get("keywords", []),
                "keywords_type": "theme",
                "terms_of_service": server.get("terms_of_service"),
                "url": server.get("url"),
            },
            "license": server["license"],
            "provider": server["provider"],
            "contact": server["contact"],
        },
        "resources": resources,
        # read by sdi.server.pygeoapi_compat (pygeoapi ignores it): /processes and /jobs answer at the root, served
        # by the analysis service (sdi.analysis.service), which runs where pgRouting is
        "sdi": {"processes": catalogue.extension_installed(conn, "pgrouting")},
    }


def _collection(conn: psycopg.Connection, settings: Settings, theme: str, server: dict) -> dict:
    schema_file = settings.config_dir / "schemas" / f"{theme}.yaml"
    schema = _yaml(schema_file) if schema_file.exists() else {}
    title = schema.get("title", {"pl": theme, "en": theme})
    about = schema.get("description") or title
    bbox, count = catalogue.theme_extent(conn, theme)
    loads = [layer for layer in catalogue.layers(conn) if layer.theme == theme]
    cities = len(loads)
    if theme in qgis_access_layers.LAYERS and not schema:
        # an analysis result: a view with no schema and no loads, titled as in the QGIS projects, its cities counted
        # from its rows (it said "access_buildings ... from 0 municipalities")
        pl, en, _ = qgis_access_layers.LAYERS[theme]
        title, about = {"pl": pl, "en": en}, {"pl": f"{pl} (art. 13f).", "en": f"{en} (art. 13f)."}
        cities = catalogue.theme_cities(conn, theme)
    # The data set, not the load log: provenance lives in each data set's ISO record (issue 19).
    latest = max((x.loaded_at for x in loads), default=None)
    as_of = ("", "") if latest is None else (f", stan na {latest:%Y-%m-%d}", f", as of {latest:%Y-%m-%d}")
    record = "" if schema.get("access") == "restricted" else f"/metadata/{file_identifier('all', theme)}.xml"
    gpkg = f"/downloads/{theme}/{theme}_PL.gpkg"
    more = (
        ("", "")
        if not record
        else (
            f" Metadane ISO 19139: {record}; plik GeoPackage: {gpkg}.",
            f" ISO 19139 metadata: {record}; GeoPackage: {gpkg}.",
        )
    )
    return {
        "type": "collection",
        "title": title,
        "description": {
            "pl": f"{about['pl']} {count} {plural(count, 'obiekt', 'obiekty', 'obiektów')} z {cities}"
            f" {plural(cities, 'gminy', 'gmin', 'gmin')}{as_of[0]}.{more[0]}",  # z 1 gminy, z 2 gmin
            "en": f"{about['en']} {count} features from {cities} municipalit{'y' if cities == 1 else 'ies'}"
            f"{as_of[1]}.{more[1]}",
        },
        "keywords": [theme, *server.get("keywords", [])[:3]],
        "extents": {"spatial": {"bbox": bbox or [14.1, 49.0, 24.2, 54.9], "crs": CRS84}},
        "providers": [
            {
                "type": "feature",
                "name": "sdi.server.provider.SdiProvider",
                "data": {"theme": theme},
                "id_field": "fid",
                # pygeoapi turns any bbox-crs into the storage CRS, in its authority axis order
                # (northing, easting); the provider reprojects the output in SQL.
                "storage_crs": STORAGE_CRS,
                "crs": OUTPUT_CRS,
            },
            {
                "type": "tile",
                "name": "sdi.server.tiles.SdiTileProvider",
                "data": {"theme": theme},
                "options": {"zoom": {"min": 0, "max": 22}, "schemes": ["WebMercatorQuad"]},
                "format": {"name": "pbf", "mimetype": "application/vnd.mapbox-vector-tile"},
            },
        ],
    }


def _coverage_collection(
    theme: str, schema: RasterSchema, rasters: list[catalogue.CityRaster], settings: Settings, url: str
) -> dict:
    """A raster theme as one coverage over the mosaic of its cities, with each city's COG linked for download."""
    mosaic = coverage.write_mosaic(theme, rasters, schema, settings.home_abs / "pygeoapi" / "rasters")
    west, south = min(r.lonlat[0] for r in rasters), min(r.lonlat[1] for r in rasters)
    east, north = max(r.lonlat[2] for r in rasters), max(r.lonlat[3] for r in rasters)
    cities = ", ".join(r.city for r in rasters)
    unit = f" [{schema.unit}]" if schema.unit else ""
    about = schema.description or schema.title
    cog = "image/tiff; application=geotiff; profile=cloud-optimized"
    return {
        "type": "collection",
        "title": schema.title.model_dump(),
        "description": {
            "pl": f"{about.pl}{unit} Rastry gmin: {cities}.",
            "en": f"{about.en}{unit} Rasters of: {cities}.",
        },
        "keywords": [theme, "raster", "COG"],
        "links": [
            {
                "type": "image/png",
                "rel": "preview",
                "title": "Preview / Podgląd (PNG)",
                "href": f"{url}/collections/{theme}/preview.png",
            }
        ]
        # with its length: without one, pygeoapi sends itself a HEAD request for every listing
        + [
            {
                "type": cog,
                "rel": "enclosure",
                "title": f"COG {r.city} (HTTP range requests, /vsicurl/)",
                "href": f"{url}/rasters/{theme}/{r.city}.tif",
                "length": r.bytes,
            }
            for r in rasters
        ],
        "extents": {"spatial": {"bbox": [west, south, east, north], "crs": CRS84}},
        "providers": [
            {
                "type": "coverage",
                "name": "sdi.server.coverage.SdiCoverageProvider",
                "data": str(mosaic),
                "format": {"name": "GTiff", "mimetype": "image/tiff"},
            }
        ],
    }


def write_config(settings: Settings | None = None, host: str = "127.0.0.1", port: int = 5000) -> tuple[Path, Path]:
    """Write config.yml and openapi.yml under $SDI_HOME/pygeoapi; returns both paths."""
    from pygeoapi.openapi import get_oas  # heavy import, only when serving

    settings = settings or get_settings()
    with open_catalogue(settings) as conn:
        config = build_config(conn, settings, host, port)
        qgis_project.install_styles(conn, settings)  # QGIS users reading PostGIS directly get them too
    folder = settings.home_abs / "pygeoapi"
    folder.mkdir(parents=True, exist_ok=True)
    config_path, openapi_path = folder / "config.yml", folder / "openapi.yml"
    config_path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    processes = bool(config.get("sdi", {}).get("processes"))
    document = openapi.finish(get_oas(config), restricted_themes(settings), processes)
    openapi_path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return config_path, openapi_path


def _yaml(path: Path) -> dict:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path}: not found", "run sdi from the project folder or set SDI_CONFIG_DIR") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML ({exc})", "fix the file's syntax") from None
