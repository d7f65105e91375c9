"""Publish: the pygeoapi configuration generated from the catalogue, and the server that reads it.

The configuration is derived, never edited by hand: one collection per theme with data.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
from pathlib import Path

import psycopg
import yaml

from sdi import catalogue, coverage, openapi, qgis_project, roles
from sdi.catalogue import open_catalogue
from sdi.config import RasterSchema, registry, restricted_themes
from sdi.db import database_url
from sdi.errors import ConfigError, SdiError, ServeError
from sdi.settings import CRS84, STORAGE_CRS, Settings, child_env, get_settings

logger = logging.getLogger(__name__)

_POLL_SECONDS = 2
OUTPUT_CRS = [CRS84, *(f"http://www.opengis.net/def/crs/EPSG/0/{code}"
                       for code in (4326, 2180, 2176, 2177, 2178, 2179, 3857))]


def build_config(conn: psycopg.Connection, settings: Settings, host: str, port: int) -> dict:
    """The whole pygeoapi configuration for what the catalogue holds now."""
    server = _yaml(settings.config_dir / "server.yaml")
    url = f"http://{host}:{port}"
    resources = {theme: _collection(conn, settings, theme, server) for theme in catalogue.published_themes(conn)}
    schemas = registry(settings).rasters
    for theme, rasters in catalogue.current_rasters(conn).items():
        if theme in schemas:  # a theme since removed from config/ stays in the catalogue, unpublished
            resources[theme] = _coverage_collection(theme, schemas[theme], rasters, settings, url)
    return {
        "server": {
            "bind": {"host": host, "port": port}, "url": url,
            "mimetype": "application/json; charset=UTF-8", "encoding": "utf-8", "gzip": False,
            "languages": ["pl", "en"], "pretty_print": False,
            "limits": server.get("limits", {"default_items": 1000, "max_items": 10000}),
            # read-only: no transactions; pygeoapi's admin API stays off
            "cors": settings.cors, "admin": False,
            "map": server["map"],
        },
        "logging": {"level": "ERROR"},
        "metadata": {
            "identification": {
                "title": server["title"], "description": server["description"],
                "keywords": server.get("keywords", []), "keywords_type": "theme",
                "terms_of_service": server.get("terms_of_service"), "url": server.get("url"),
            },
            "license": server["license"], "provider": server["provider"], "contact": server["contact"],
        },
        "resources": resources,
    }


def _collection(conn: psycopg.Connection, settings: Settings, theme: str, server: dict) -> dict:
    schema_file = settings.config_dir / "schemas" / f"{theme}.yaml"
    schema = _yaml(schema_file) if schema_file.exists() else {}
    title = schema.get("title", {"pl": theme, "en": theme})
    about = schema.get("description") or title
    bbox, count = catalogue.theme_extent(conn, theme)
    loads = [layer for layer in catalogue.layers(conn) if layer.theme == theme]
    provenance = "; ".join(f"{x.city}: {Path(x.source).name}, {x.loaded_at:%Y-%m-%d %H:%M} UTC, load {x.load_id}"
                           for x in loads)
    return {
        "type": "collection",
        "title": title,
        "description": {
            "pl": f"{about['pl']} {count} obiektów z {len(loads)} gmin. Ostatnie wczytania: {provenance}.",
            "en": f"{about['en']} {count} features from {len(loads)} municipalities. Latest loads: {provenance}.",
        },
        "keywords": [theme, *server.get("keywords", [])[:3]],
        "extents": {"spatial": {"bbox": bbox or [14.1, 49.0, 24.2, 54.9], "crs": CRS84}},
        "providers": [{"type": "feature", "name": "sdi.provider.SdiProvider",
                       "data": {"theme": theme}, "id_field": "fid",
                       # pygeoapi turns any bbox-crs into the storage CRS, in its authority axis order
                       # (northing, easting); the provider reprojects the output in SQL.
                       "storage_crs": STORAGE_CRS, "crs": OUTPUT_CRS},
                      {"type": "tile", "name": "sdi.tiles.SdiTileProvider", "data": {"theme": theme},
                       "options": {"zoom": {"min": 0, "max": 22}, "schemes": ["WebMercatorQuad"]},
                       "format": {"name": "pbf", "mimetype": "application/vnd.mapbox-vector-tile"}}],
    }


def _coverage_collection(theme: str, schema: RasterSchema, rasters: list[catalogue.CityRaster], settings: Settings,
                         url: str) -> dict:
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
        "description": {"pl": f"{about.pl}{unit} Rastry gmin: {cities}.",
                        "en": f"{about.en}{unit} Rasters of: {cities}."},
        "keywords": [theme, "raster", "COG"],
        "links": [{"type": "image/png", "rel": "preview", "title": "Preview / Podgląd (PNG)",
                   "href": f"{url}/collections/{theme}/preview.png"}]
                 # with its length: without one, pygeoapi sends itself a HEAD request for every listing
                 + [{"type": cog, "rel": "enclosure", "title": f"COG {r.city} (HTTP range requests, /vsicurl/)",
                     "href": f"{url}/rasters/{theme}/{r.city}.tif", "length": r.bytes} for r in rasters],
        "extents": {"spatial": {"bbox": [west, south, east, north], "crs": CRS84}},
        "providers": [{"type": "coverage", "name": "sdi.coverage.SdiCoverageProvider", "data": str(mosaic),
                       "format": {"name": "GTiff", "mimetype": "image/tiff"}}],
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
    openapi_path.write_text(yaml.safe_dump(openapi.finish(get_oas(config), restricted_themes(settings)), allow_unicode=True), encoding="utf-8")
    return config_path, openapi_path


def serve(settings: Settings | None = None, host: str = "127.0.0.1", port: int = 5000, workers: int = 2) -> int:
    """Run pygeoapi under gunicorn until Ctrl-C; returns its exit code."""
    settings = settings or get_settings()
    config_path, openapi_path = write_config(settings, host, port)
    # The workers face the network: they connect as the reader, never as the owner running this.
    env = child_env(PYGEOAPI_CONFIG=str(config_path), PYGEOAPI_OPENAPI=str(openapi_path),
                    SDI_DATABASE_URL=_reader_url(settings))
    cmd = [sys.executable, "-m", "gunicorn", "--bind", f"{host}:{port}", "--workers", str(workers),
           "--timeout", str(settings.request_timeout), "--no-control-socket", "--access-logfile", "-", "--logger-class", "sdi.access.RedactingLogger",
           "sdi.wsgi:app"]
    try:
        proc = subprocess.Popen(cmd, env=env)
    except OSError as exc:
        raise ServeError(f"cannot start gunicorn: {exc}", "run `make setup` to install the server") from None
    # A service manager (or a test) stops `sdi serve` with SIGTERM: gunicorn must go with it, or its
    # workers live on as orphans holding the port and memory.
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        return _watch(proc, settings, host, port)
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()
    finally:
        signal.signal(signal.SIGTERM, previous)


def _reader_url(settings: Settings) -> str:
    if settings.reader_database_url:
        return settings.reader_database_url
    with open_catalogue(settings) as conn:
        return roles.ensure_reader(conn, database_url(settings))


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def _watch(proc: subprocess.Popen, settings: Settings, host: str, port: int) -> int:
    """Wait for the server; when a load, rollback or new theme changes the catalogue, reload it.

    gunicorn's HUP starts fresh workers, which read the regenerated configuration, and lets the old
    ones finish their requests: no request is dropped and nobody restarts anything.
    """
    seen = _fingerprint(settings)
    while True:
        try:
            return proc.wait(timeout=_POLL_SECONDS)
        except subprocess.TimeoutExpired:
            pass
        now = _fingerprint(settings)
        if now != seen:
            logger.warning("the catalogue changed: regenerating the configuration and reloading the server")
            write_config(settings, host, port)
            proc.send_signal(signal.SIGHUP)
            seen = now


def _fingerprint(settings: Settings) -> str | None:
    try:
        with psycopg.connect(database_url(settings, start=False), connect_timeout=5) as conn:
            return conn.execute("SELECT md5(coalesce(string_agg(city || theme || load_id, ','"
                                " ORDER BY city, theme), '')) FROM sdi.layers").fetchone()[0]
    except (psycopg.Error, SdiError):
        return None  # the database is briefly away: keep serving what we have


def _yaml(path: Path) -> dict:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path}: not found", "run sdi from the project folder or set SDI_CONFIG_DIR") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML ({exc})", "fix the file's syntax") from None
