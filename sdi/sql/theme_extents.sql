-- Per published theme: its extent in CRS84 and its feature count, for the pygeoapi configuration.
-- Filled by sdi.catalogue.theme_extent with the quoted table name.
SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e), n
FROM (
    SELECT ST_Transform(ST_SetSRID(ST_Extent(geom)::geometry, 2180), 4326) AS e, count(*) AS n
    FROM {table}
) s;
