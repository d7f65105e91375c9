-- The current raster of every (city, theme): its COG and where it lies, in EPSG:2180 and in lon/lat.
-- Oldest load first, so that in a theme's mosaic a newer city's raster wins where two overlap.
SELECT city, theme, load_id, path, width, height, resolution, nodata, bytes, low, high, loaded_at,
       ST_XMin(bounds) AS xmin, ST_YMin(bounds) AS ymin, ST_XMax(bounds) AS xmax, ST_YMax(bounds) AS ymax,
       ST_XMin(ll) AS west, ST_YMin(ll) AS south, ST_XMax(ll) AS east, ST_YMax(ll) AS north
FROM data.sdi_rasters, ST_Transform(bounds, 4326) AS ll
ORDER BY theme, load_id;
