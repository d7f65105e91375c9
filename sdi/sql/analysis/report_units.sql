-- The units drawn on a run's report map (the first N of the run), coloured by their status.
SELECT parcel_id AS label,
       CASE WHEN all_ok THEN 'met' WHEN reason IS NOT NULL THEN 'unreachable' ELSE 'not_met' END AS status,
       round(school_m::numeric, 1) AS school_m, round(green_sum_ha::numeric, 2) AS green_ha,
       round(green20_m::numeric, 1) AS green20_m, reason,
       ST_AsGeoJSON(ST_Transform(ST_SimplifyPreserveTopology(geom, 0.5), 4326), 6) AS geometry
FROM analysis.parcel_access
WHERE run_id = %s
ORDER BY parcel_fid
LIMIT %s
