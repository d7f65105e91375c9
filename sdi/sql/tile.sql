-- One vector tile of a theme's view; sdi/server/tiles.py fills in the columns, the view, the loads and the scope.
-- The tile envelope is segmentized before it is reprojected to EPSG:2180, so that its bounding box
-- there still covers the whole tile at low zooms, where Mercator edges bend.
WITH tile AS (SELECT ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS env)
SELECT ST_AsMVT(t, %(layer)s, 4096, 'geom') FROM (
    SELECT {columns},
           ST_AsMVTGeom(ST_Transform(d.geom, 3857), tile.env, 4096, 64, true) AS geom
    FROM {view} d, tile
    WHERE d.geom && ST_Transform(ST_Segmentize(tile.env, (ST_XMax(tile.env) - ST_XMin(tile.env)) / 4), 2180)
      AND {loads}{scope}
) t
WHERE t.geom IS NOT NULL
