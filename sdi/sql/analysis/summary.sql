-- The summaries of run %(run)s as a layer: one row per precinct (its parcels' union) and one for the gmina
-- (the hull of its precincts), with the share of parcels meeting each standard.
INSERT INTO analysis.area_summary (run_id, city, level, area, parcels, school, green_3ha, green_20ha, all_standards,
        unreachable, school_network_only, school_straight_only, status, geom)
SELECT run_id, city, level, area, parcels, school, green_3ha, green_20ha, all_standards, unreachable,
       school_network_only, school_straight_only,
       CASE WHEN all_standards = 1 THEN 'met' WHEN unreachable * 2 > parcels THEN 'unreachable' ELSE 'not_met' END,
       geom
FROM (
    SELECT %(run)s::bigint AS run_id, city, 'precinct' AS level, coalesce(precinct, '?') AS area, count(*) AS parcels,
           avg(school_ok::int) AS school, avg(green_ok::int) AS green_3ha, avg(green20_ok::int) AS green_20ha,
           avg(all_ok::int) AS all_standards, count(*) FILTER (WHERE reason IS NOT NULL) AS unreachable,
           count(*) FILTER (WHERE school_ok AND NOT school_straight_ok) AS school_network_only,
           count(*) FILTER (WHERE school_straight_ok AND NOT school_ok) AS school_straight_only,
           ST_Multi(ST_CollectionExtract(ST_Union(geom), 3))::geometry(MultiPolygon, 2180) AS geom
    FROM analysis.parcel_access WHERE run_id = %(run)s GROUP BY city, coalesce(precinct, '?')
) s;

INSERT INTO analysis.area_summary (run_id, city, level, area, parcels, school, green_3ha, green_20ha, all_standards,
        unreachable, school_network_only, school_straight_only, status, geom)
SELECT %(run)s, city, 'gmina', city, sum(parcels), sum(school * parcels) / sum(parcels),
       sum(green_3ha * parcels) / sum(parcels), sum(green_20ha * parcels) / sum(parcels),
       sum(all_standards * parcels) / sum(parcels), sum(unreachable), sum(school_network_only),
       sum(school_straight_only),
       CASE WHEN bool_and(all_standards = 1) THEN 'met' WHEN sum(unreachable) * 2 > sum(parcels) THEN 'unreachable'
            ELSE 'not_met' END,
       -- the hull of its precincts, not a second dissolve of every parcel: the outline is enough at that level
       ST_Multi(ST_ConvexHull(ST_Collect(geom)))::geometry(MultiPolygon, 2180)
FROM analysis.area_summary WHERE run_id = %(run)s AND level = 'precinct'
GROUP BY city;
