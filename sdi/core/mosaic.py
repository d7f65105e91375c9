"""Tiles laid side by side as one GDAL VRT: shared by the raster loader (which writes a COG from it) and the
coverage server (which serves the cities' COGs as one mosaic), so neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape

from pyproj import CRS

from sdi.core.config import RasterSchema

_GDAL_TYPES = {"uint8": "Byte", "uint16": "UInt16", "int16": "Int16", "float32": "Float32"}
_RGB = ("Red", "Green", "Blue")


@dataclass
class Tile:
    """One source file as GDAL opens it, with what its header says."""

    path: str
    width: int
    height: int
    bounds: tuple[float, float, float, float]
    res: tuple[float, float]
    nodata: float | None


def mosaic_vrt(
    tiles: list[Tile],
    epsg: int,
    schema: RasterSchema,
    *,
    bands: list[int] | None = None,
    palette: bool = False,
    src_nodata: float | None = None,
) -> str:
    """A GDAL VRT that lays the tiles side by side at the finest pixel size, in the theme's data type.

    Tiles may come from different cities or flights: where they overlap, the later one in the list wins.
    """
    res = min(min(t.res) for t in tiles)
    minx, maxy = min(t.bounds[0] for t in tiles), max(t.bounds[3] for t in tiles)
    width = round((max(t.bounds[2] for t in tiles) - minx) / res)
    height = round((maxy - min(t.bounds[1] for t in tiles)) / res)
    crs = CRS.from_epsg(epsg)
    # Pixels run east, then south, whatever the CRS's own axis order: PUWG 1992 and 2000 list northing first.
    mapping = "2,1" if crs.axis_info[0].direction in ("north", "south") else "1,2"
    lines = [
        f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}">',
        f'  <SRS dataAxisToSRSAxisMapping="{mapping}">{escape(crs.to_wkt())}</SRS>',
        f"  <GeoTransform>{minx!r}, {res!r}, 0, {maxy!r}, 0, {-res!r}</GeoTransform>",
    ]
    for i, source_band in enumerate(bands or range(1, len(schema.bands) + 1), start=1):
        lines.append(f'  <VRTRasterBand dataType="{_GDAL_TYPES[schema.dtype]}" band="{i}">')
        lines.append(f"    <Description>{escape(schema.bands[i - 1].name)}</Description>")
        if schema.nodata is not None:
            lines.append(f"    <NoDataValue>{schema.nodata!r}</NoDataValue>")
        if schema.unit:
            lines.append(f"    <UnitType>{escape(schema.unit)}</UnitType>")
        if len(schema.bands) == 3:
            lines.append(f"    <ColorInterp>{_RGB[i - 1]}</ColorInterp>")
        for t in tiles:
            x, y = (t.bounds[0] - minx) / res, (maxy - t.bounds[3]) / res
            nodata = src_nodata if src_nodata is not None else t.nodata
            lines += [
                "    <ComplexSource>",
                f'      <SourceFilename relativeToVRT="0">{escape(t.path)}</SourceFilename>',
                f"      <SourceBand>{source_band}</SourceBand>",
                f'      <SrcRect xOff="0" yOff="0" xSize="{t.width}" ySize="{t.height}"/>',
                f'      <DstRect xOff="{x!r}" yOff="{y!r}" xSize="{t.width * t.res[0] / res!r}"'
                f' ySize="{t.height * t.res[1] / res!r}"/>',
            ]
            if nodata is not None:
                lines.append(f"      <NODATA>{nodata!r}</NODATA>")
            if palette:
                lines.append(f"      <ColorTableComponent>{i}</ColorTableComponent>")
            lines.append("    </ComplexSource>")
        lines.append("  </VRTRasterBand>")
    lines.append("</VRTDataset>")
    return "\n".join(lines) + "\n"
