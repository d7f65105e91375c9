-- The extent (EPSG:2180) of one city's features in one theme's current view.
-- Filled by sdi.qgis_project with the quoted view name; %(city)s is bound.
SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
FROM (SELECT ST_Extent(geom) AS e FROM {table} WHERE city = %(city)s) s
WHERE e IS NOT NULL;
