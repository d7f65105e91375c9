"""Rasters in the API: each raster theme is one OGC API Coverages collection over a mosaic of the cities' COGs.

pygeoapi's rasterio provider does the coverage work; this module gives it a mosaic to read (a VRT over
the current COG of every city, rewritten when the catalogue changes), understands `bbox-crs` as a URI in
the CRS's own axis order, as the features API does, and refuses answers too big for one response. It
also draws the PNG previews shown on each collection's HTML page.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from pygeoapi.provider.base import ProviderInvalidQueryError, ProviderRequestEntityTooLargeError
from pygeoapi.provider.rasterio_ import RasterioProvider
from pyproj import CRS, Transformer
from rasterio.errors import NotGeoreferencedWarning, RasterioError
from rasterio.io import MemoryFile
from rasterio.vrt import WarpedVRT
from rasterio.windows import from_bounds

from sdi.core.catalogue import CityRaster
from sdi.core.config import RasterSchema
from sdi.core.mosaic import Tile, mosaic_vrt
from sdi.core.settings import STORAGE_CRS, get_settings
from sdi.server.raster_files import raster_file

logger = logging.getLogger(__name__)

#: The most pixels one coverage response may carry: beyond it, a client asks for a bbox or takes the COG.
MAX_PIXELS = 4_000_000


def servable(theme: str, rasters: list[CityRaster], raster_dir: Path | None = None) -> list[CityRaster]:
    """The rows whose file is the server's own readable COG, with that file as their path; bad rows logged.

    A catalogue row is written by a city's login: a path outside the raster folder, or a file that is no
    raster, must neither be published nor stop `sdi serve` (rasterio would raise in the serve parent).
    """
    raster_dir = raster_dir or get_settings().raster_dir_abs
    good = []
    for r in rasters:
        path = raster_file(r.path, theme, r.city, raster_dir)
        if path is None:
            continue
        try:
            with rasterio.open(path) as ds:
                ds.bounds  # noqa: B018 - a header that opens but has no georeferencing fails here
        except (RasterioError, OSError) as exc:
            logger.warning("skipped the raster of %s/%s: not a readable raster (%s)", theme, r.city, type(exc).__name__)
            continue
        good.append(replace(r, path=str(path)))
    return good


def write_mosaic(
    theme: str, rasters: list[CityRaster], schema: RasterSchema, folder: Path, raster_dir: Path | None = None
) -> Path | None:
    """The theme's mosaic as a VRT over the cities' COGs, replaced atomically under a reading server.

    Only the rows that `servable` accepts are in it; None when none is.
    """
    tiles = []
    for r in servable(theme, rasters, raster_dir):
        with rasterio.open(r.path) as ds:
            tiles.append(Tile(r.path, ds.width, ds.height, tuple(ds.bounds), ds.res, ds.nodata))
    if not tiles:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    path, partial = folder / f"{theme}.vrt", folder / f".{theme}.vrt.partial"
    partial.write_text(mosaic_vrt(tiles, 2180, schema, src_nodata=schema.nodata), encoding="utf-8")
    os.replace(partial, path)
    return path


class SdiCoverageProvider(RasterioProvider):
    """pygeoapi's rasterio provider with OGC CRS URIs, each CRS's axis order, named bands and a size limit."""

    def _get_coverage_properties(self) -> dict:
        properties = super()._get_coverage_properties()
        properties["bbox_crs"] = STORAGE_CRS  # pygeoapi writes .../OGC/1.3/2180, which names no CRS
        return properties

    def get_fields(self) -> dict:
        if not self._fields:
            for i, (name, dtype) in enumerate(zip(self._data.descriptions, self._data.dtypes, strict=True), start=1):
                self._fields[str(i)] = {
                    "title": name or f"band {i}",
                    "type": "number" if "float" in dtype else "integer",
                    **({"x-ogc-unit": self._data.units[i - 1]} if self._data.units[i - 1] else {}),
                }
        return self._fields

    def query(
        self,
        properties: list | None = None,
        subsets: dict | None = None,
        bbox=None,
        bbox_crs=4326,
        datetime_=None,
        format_="json",
        **kwargs,
    ):
        # pygeoapi's own signature has [] and {} defaults; None here, so no call can change a shared default
        properties, subsets = properties or [], subsets or {}
        epsg = 4326  # pygeoapi's default when the request has no bbox-crs: lon/lat (CRS84)
        if bbox and bbox_crs != 4326:
            crs = _crs(bbox_crs)
            epsg = crs.to_epsg() or 4326
            if crs.axis_info and crs.axis_info[0].direction in ("north", "south"):
                bbox = [bbox[1], bbox[0], bbox[3], bbox[2]]  # latitude or northing first, as the CRS defines
        x, y = self._coverage_properties["x_axis_label"], self._coverage_properties["y_axis_label"]
        if format_ != "json" and not bbox and not (x in subsets and y in subsets):
            # pygeoapi would send the mosaic's VRT file as it is, absolute server paths and all: the whole
            # coverage is cut as a GeoTIFF instead, within the size limit like any other window
            b = self._data.bounds
            subsets = {**subsets, x: [b.left, b.right], y: [b.bottom, b.top]}
        self._check_window(bbox, epsg, subsets, properties, format_)
        return super().query(
            properties=properties,
            subsets=subsets,
            bbox=bbox,
            bbox_crs=epsg,
            datetime_=datetime_,
            format_=format_,
            **kwargs,
        )

    def _check_window(self, bbox, epsg: int, subsets: dict, properties, format_: str) -> None:
        """400 for a window off the coverage, 413 for one too big to send: before any pixel is read."""
        have = self._data.bounds
        want = tuple(have)
        if bbox:
            want = Transformer.from_crs(epsg, 2180, always_xy=True).transform_bounds(*bbox) if epsg != 2180 else bbox
        elif "x" in subsets and "y" in subsets:
            want = (subsets["x"][0], subsets["y"][0], subsets["x"][1], subsets["y"][1])
        if want[0] >= have.right or want[2] <= have.left or want[1] >= have.top or want[3] <= have.bottom:
            raise ProviderInvalidQueryError(
                user_msg=(
                    f"the requested area ({', '.join(f'{v:.1f}' for v in want)} in EPSG:2180) does not overlap the"
                    f" coverage ({', '.join(f'{v:.1f}' for v in have)}); the bbox is in the order of bbox-crs's axes:"
                    " northing first for EPSG:2180 and PUWG 2000, latitude first for EPSG:4326, lon/lat with none"
                )
            )
        window = from_bounds(*want, transform=self._data.transform)
        values = abs(window.width * window.height) * (len(properties) if properties else self._data.count)
        if values > MAX_PIXELS:
            raise ProviderRequestEntityTooLargeError(
                user_msg=(
                    f"the request covers {values:,.0f} values, over the limit of {MAX_PIXELS:,}: ask for a smaller"
                    " bbox, or download the COGs from the collection's enclosure links"
                )
            )

    def gen_covjson(self, metadata: dict, data) -> dict:
        """CoverageJSON with one named range per band (pygeoapi 0.21 flattens every band into one)."""
        minx, miny, maxx, maxy = metadata["bbox"]
        bands = metadata["bands"] or list(range(1, self._data.count + 1))
        fields = self.get_fields()
        cj: dict[str, Any]  # CoverageJSON
        cj = {
            "type": "Coverage",
            "domain": {
                "type": "Domain",
                "domainType": "Grid",
                "axes": {
                    "x": {"start": minx, "stop": maxx, "num": metadata["width"]},
                    "y": {"start": maxy, "stop": miny, "num": metadata["height"]},
                },
                "referencing": [{"coordinates": ["x", "y"], "system": {"type": "ProjectedCRS", "id": STORAGE_CRS}}],
            },
            "parameters": {},
            "ranges": {},
        }
        for position, band in enumerate(bands):
            field = fields[str(band)]
            cj["parameters"][field["title"]] = {
                "type": "Parameter",
                "description": {"en": field["title"]},
                "unit": {"symbol": field.get("x-ogc-unit")},
                "observedProperty": {"id": field["title"], "label": {"en": field["title"]}},
            }
            values: Any = np.ma.masked_invalid(np.ma.asarray(data[position], dtype="float64"))
            cj["ranges"][field["title"]] = {
                "type": "NdArray",
                "dataType": "float" if field["type"] == "number" else "integer",
                "axisNames": ["y", "x"],
                "shape": [metadata["height"], metadata["width"]],
                "values": [
                    None if v is None else (v if field["type"] == "number" else int(v))
                    for v in values.astype(object).filled(None).ravel().tolist()
                ],
            }
        return cj


def _crs(value) -> CRS:
    try:
        return CRS.from_user_input(int(value) if str(value).isdigit() else value)
    except Exception:
        raise ProviderInvalidQueryError(
            user_msg=f"unknown bbox-crs {value}: give an OGC CRS URI such as {STORAGE_CRS}"
        ) from None


def preview_png(path: str, schema: RasterSchema, size: int = 768) -> tuple[bytes, tuple[float, ...]]:
    """The mosaic drawn in Web Mercator, at most `size` pixels wide, with nodata transparent.

    Returns the PNG and its bounds as west, south, east, north, so that a web map can lay it over its tiles.
    """
    with rasterio.open(path) as src, WarpedVRT(src, crs="EPSG:3857", resampling=_resampling(schema)) as vrt:
        scale = max(vrt.width, vrt.height) / size
        shape = (vrt.count, max(1, round(vrt.height / max(scale, 1))), max(1, round(vrt.width / max(scale, 1))))
        data = vrt.read(out_shape=shape, masked=True)
        from rasterio.warp import transform_bounds

        lonlat = transform_bounds("EPSG:3857", "EPSG:4326", *vrt.bounds)
    rgba = _colour(data, schema)
    with MemoryFile() as memory, warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # a picture for a web page: no georeferencing
        with memory.open(driver="PNG", width=rgba.shape[2], height=rgba.shape[1], count=4, dtype="uint8") as png:
            png.write(rgba)
        return memory.read(), lonlat


def _resampling(schema: RasterSchema):
    from rasterio.enums import Resampling

    return Resampling.nearest if schema.resampling == "nearest" else Resampling.bilinear


def _colour(data: np.ma.MaskedArray, schema: RasterSchema) -> np.ndarray:
    """RGBA bytes: pictures as they are, classes in their legend colours, heights along the theme's ramp."""
    mask = np.ma.getmaskarray(data).any(axis=0)
    alpha = np.where(mask, 0, 255).astype("uint8")
    if data.shape[0] >= 3:
        rgb = np.ma.filled(data[:3], 0).astype("uint8")
    elif schema.classes:
        table = np.zeros((256, 3), dtype="uint8")
        for value, code in schema.classes.items():
            table[value] = _hex(code.color or "#808080")
        values = np.ma.filled(data[0], 0).astype("int64").clip(0, 255)
        rgb = table[values].transpose(2, 0, 1)
        alpha = np.where(values == 0, 0, alpha).astype("uint8")
    else:
        ramp = np.array([_hex(c) for c in (schema.ramp or ["#000000", "#ffffff"])], dtype=float)
        valid = data[0].compressed()
        low, high = np.percentile(valid, [2, 98]) if valid.size else (0.0, 1.0)
        t = ((np.ma.filled(data[0], low) - low) / max(high - low, 1e-9)).clip(0, 1) * (len(ramp) - 1)
        rgb = np.stack([np.interp(t, np.arange(len(ramp)), ramp[:, i]) for i in range(3)]).astype("uint8")
    return np.concatenate([rgb, alpha[None]])


def _hex(colour: str) -> tuple[int, int, int]:
    colour = colour.lstrip("#")
    return int(colour[0:2], 16), int(colour[2:4], 16), int(colour[4:6], 16)
