"""Typed settings from `SDI_*` environment variables: nothing else in sdi reads os.environ."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Every geometry is stored in PUWG 1992, the national grid of Poland.
STORAGE_SRID = 2180
#: The same CRS, and lon/lat, as OGC API names them.
STORAGE_CRS = f"http://www.opengis.net/def/crs/EPSG/0/{STORAGE_SRID}"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"

#: The project's own config/ folder, found from the package so that sdi works from any folder.
# sdi/data/config and sdi/data/styles are links to the project's config/ and styles/ in a checkout, and the
# files themselves in an installed wheel (package data): found from the package either way.
_PACKAGE_DATA = Path(__file__).resolve().parents[1] / "data"
_PROJECT_CONFIG = _PACKAGE_DATA / "config"
_PROJECT_STYLES = _PACKAGE_DATA / "styles"


class Settings(BaseSettings):
    """Everything sdi can be told through the environment."""

    model_config = SettingsConfigDict(env_prefix="SDI_", extra="ignore")

    home: Path = Field(default=Path(".sdi"), description="where the embedded cluster and generated files live")
    database_url: str | None = Field(default=None, description="an external PostGIS; unset means the embedded cluster")
    pg_bin: Path | None = Field(
        default=None, description="folder of initdb/pg_ctl; default: newest /usr/lib/postgresql/*/bin"
    )
    config_dir: Path = Field(default=_PROJECT_CONFIG, description="schemas, mappings and server.yaml")
    styles_dir: Path = Field(default=_PROJECT_STYLES, description="QGIS styles, <theme>.qml and <theme>.sld")
    max_unzipped_mb: int = Field(default=4096, description="refuse zips that unpack to more than this")
    max_reject_share: float = Field(
        default=0.05, description="refuse to publish a load that rejects more than this share of its features"
    )
    raster_dir: Path | None = Field(
        default=None, description="where loaded rasters are kept as COGs; unset means $SDI_HOME/rasters"
    )
    max_raster_mpix: int = Field(
        default=20_000, description="refuse rasters whose header declares more megapixels than this (header bombs)"
    )
    reader_database_url: str | None = Field(
        default=None, description="the API's read-only login; unset means sdi serve makes one with a new password"
    )
    request_timeout: int = Field(default=30, description="seconds before a worker's request is cut off")
    cors: bool = Field(default=True, description="allow browsers on other sites to call the API")
    public_url: str | None = Field(
        default=None,
        description="the address clients reach sdi serve at, e.g. https://sip.gmina.gov.pl behind a "
        "proxy; records, feeds, links and server.url use it. Unset: http://--host:--port",
    )
    host: str = "127.0.0.1"
    port: int = 5000
    workers: int = 2

    @property
    def home_abs(self) -> Path:
        """SDI_HOME as an absolute path, so that child processes agree on it."""
        return self.home.expanduser().resolve()

    @property
    def raster_dir_abs(self) -> Path:
        return (self.raster_dir or self.home / "rasters").expanduser().resolve()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read once."""
    return Settings()


def child_env(**overrides: str) -> dict[str, str]:
    """The environment for a child process (pygeoapi, gunicorn) with SDI_* overrides."""
    env = dict(os.environ)
    env.update({k: v for k, v in overrides.items() if v is not None})
    return env
