-- The current loads of a theme that one API request can touch (sdi.server.partition_scope), in fid order.
-- A load with no recorded range or extent (written by hand, or not yet backfilled) is always kept.
-- A bound of NULL does not narrow; an empty load (row_count 0) is never kept, as it holds nothing to read.
SELECT load_id, fid_min, fid_max, row_count
FROM data.sdi_layers
WHERE theme = %(theme)s
  AND (%(city)s::text IS NULL OR city = %(city)s)
  AND (row_count IS NULL OR row_count > 0)
  AND (%(fid)s::bigint IS NULL OR fid_min IS NULL OR %(fid)s::bigint BETWEEN fid_min AND fid_max)
  AND (%(after)s::bigint IS NULL OR fid_max IS NULL OR fid_max > %(after)s::bigint)
  AND (%(xmin)s::float8 IS NULL OR xmin IS NULL
       OR (xmin <= %(xmax)s::float8 AND xmax >= %(xmin)s::float8
           AND ymin <= %(ymax)s::float8 AND ymax >= %(ymin)s::float8))
ORDER BY fid_min NULLS FIRST, load_id
