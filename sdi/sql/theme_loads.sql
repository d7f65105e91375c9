-- Every current load of a theme with where its rows lie (sdi.server.current_loads keeps them per worker), in
-- fid order; a load with no recorded range (written by hand, or not yet backfilled) comes first.
SELECT load_id, city, loaded_at, fid_min, fid_max, row_count, xmin, ymin, xmax, ymax
FROM data.sdi_layers
WHERE theme = %s
ORDER BY fid_min NULLS FIRST, load_id
