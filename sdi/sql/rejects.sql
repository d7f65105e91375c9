-- The rejects of one load (by default the newest load of the city's theme), with geometry as WKB.
SELECT r.source_index, r.source_id, r.reason, r.properties, ST_AsBinary(r.geom) AS wkb, ST_SRID(r.geom) AS srid
FROM sdi.rejects r
WHERE r.load_id = %(load_id)s
ORDER BY r.source_index;
