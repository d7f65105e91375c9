"""Vector tiles (OGC API Tiles, WebMercatorQuad) of each theme, cut by PostGIS with ST_AsMVT.

pygeoapi's own MVTPostgreSQLProvider gives the tile metadata and links; its SQLAlchemy and psycopg2
query is replaced by one SQL statement on the theme's view, through sdi's connection pool.
"""

from __future__ import annotations

import functools
import logging
import math

from flask import has_request_context, request
from psycopg import sql
from pygeoapi.models.provider.base import TileMatrixSetEnum
from pygeoapi.provider.base_mvt import BaseMVTProvider
from pygeoapi.provider.mvt_postgresql import MVTPostgreSQLProvider
from pygeoapi.provider.tile import ProviderTileNotFoundError
from pyproj import Transformer

from sdi.core import sqlfiles
from sdi.core.config import restricted_themes
from sdi.server import partition_scope
from sdi.server.access import CITY_KEY
from sdi.server.provider import pool, theme_fields

logger = logging.getLogger(__name__)

MAX_ZOOM = 22


class SdiTileProvider(MVTPostgreSQLProvider):
    """Mapbox vector tiles of `data.<theme>` in WebMercatorQuad, every attribute included."""

    def __init__(self, provider_def: dict):
        BaseMVTProvider.__init__(self, provider_def)  # not the SQLAlchemy set-up of the parent
        self.theme = sqlfiles.check_theme(provider_def["data"]["theme"])
        self.table = self.theme
        self.id_field = "fid"
        self._fields: dict = {}

    def get_fields(self) -> dict:
        if not self._fields:
            self._fields = {name: name for name in theme_fields(self.theme)}
        return self._fields

    def get_layer(self) -> str:
        return self.theme

    def get_tiling_schemes(self) -> list:
        return [TileMatrixSetEnum.WEBMERCATORQUAD.value]

    def get_metadata(self, dataset, server_url, layer=None, tileset=None, metadata_format=None, **kwargs):
        """The tileset's metadata; JSON when the request names no format.

        pygeoapi 0.21 passes the request's `f` as it is, None without one, and then fails on None.upper()
        (a 500 for /collections/<theme>/tiles/WebMercatorQuad): see sdi.server.pygeoapi_compat.
        """
        return super().get_metadata(dataset, server_url, layer, tileset, metadata_format or "json", **kwargs)

    def get_tiles(self, layer="default", tileset=None, z=None, y=None, x=None, format_=None):
        """One tile as MVT bytes; None for an empty tile."""
        try:
            z, y, x = map(int, (z, y, x))
        except (TypeError, ValueError):
            raise ProviderTileNotFoundError(f"no tile {tileset}/{z}/{y}/{x}: tile indices are whole numbers") from None
        if tileset != "WebMercatorQuad" or not (0 <= z <= MAX_ZOOM and 0 <= x < 2**z and 0 <= y < 2**z):
            raise ProviderTileNotFoundError(f"no tile {tileset}/{z}/{y}/{x}")
        columns = sql.SQL(", ").join(sql.SQL("d.{}").format(sqlfiles.ident(c)) for c in self.get_fields())
        # a token made for one city opens only that city's rows of a restricted theme (sdi.server.access)
        city = request.environ.get(CITY_KEY) if has_request_context() and self.theme in restricted_themes() else None
        with pool().connection() as conn:
            # only the current loads whose extent meets the tile are planned (sdi.server.partition_scope)
            scope = partition_scope.load_clause(conn, self.theme, city, partition_scope.Reach(box=tile_box(z, x, y)))
            ids = scope.loads
            query = sql.SQL(sqlfiles.load("tile.sql")).format(
                columns=columns,
                view=sqlfiles.theme_table(self.theme),
                loads=sql.SQL("d.load_id = ANY(%(loads)s::bigint[])" if ids is not None else "true"),
                scope=sql.SQL(" AND d.city = %(city)s" if city else ""),
            )
            row = conn.execute(
                query, {"z": z, "x": x, "y": y, "layer": self.theme, "city": city, "loads": ids}
            ).fetchone()
        data = row["st_asmvt"] if row else None
        return bytes(data) if data else None

    def __repr__(self) -> str:
        return f"<SdiTileProvider> {self.theme}"


_WEB_MERCATOR_HALF = 20037508.342789244


def tile_box(z: int, x: int, y: int) -> tuple[float, float, float, float] | None:
    """The tile's bounds in EPSG:2180, for choosing the loads it can show; None (every load) for the tiles
    of zoom < 6, which span a continent and do not reproject to a meaningful box in a national CRS.

    The tile's edges are densified before reprojection (a Mercator edge bends in EPSG:2180), and the box is
    widened by a tenth of the tile: a box too narrow would drop features, one too wide only plans a
    neighbour's partition."""
    if z < 6:
        return None
    size = 2 * _WEB_MERCATOR_HALF / 2**z
    left, top = -_WEB_MERCATOR_HALF + x * size, _WEB_MERCATOR_HALF - y * size
    pad = size / 10
    x0, y0, x1, y1 = _to_2180().transform_bounds(
        left - pad, top - size - pad, left + size + pad, top + pad, densify_pts=21
    )
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)):
        return None
    return x0, y0, x1, y1


@functools.cache
def _to_2180():
    return Transformer.from_crs(3857, 2180, always_xy=True)
