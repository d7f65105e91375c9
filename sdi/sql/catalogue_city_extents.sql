-- Per city of one theme: its current load's extent in CRS84 and its row count, from the catalogue
-- (recorded when the load closed, migration 0014) instead of a scan of every row: the box's edges are
-- densified before reprojection, so the CRS84 box holds the data. A load without a recorded extent
-- has NULLs here, and sdi.server.datasets then scans the theme as before.
SELECT city, ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e), row_count
FROM (
    SELECT city, row_count,
           ST_Transform(ST_Segmentize(ST_MakeEnvelope(xmin, ymin, xmax, ymax, 2180),
                                      greatest((xmax - xmin + ymax - ymin) / 16, 1)), 4326) AS e
    FROM data.sdi_layers
    WHERE theme = %s AND (row_count IS NULL OR row_count > 0)
) s
