-- The summaries of run %(run)s as a layer: one row per precinct and one for the gmina, with the share of
-- units meeting each standard and the share of address points in units that meet all of them. A precinct's
-- outline is the union of its parcels or buildings, or (address points) their hull widened by 25 m; the
-- gmina's is the hull of its precincts, not a second dissolve of every unit: at that level an outline is enough.
INSERT INTO analysis.area_summary (run_id, city, level, area, parcels, school, green_3ha, green_20ha, all_standards,
        unreachable, school_network_only, school_straight_only, status, unit, addresses, addresses_ok, geom)
SELECT run_id, city, level, area, parcels, school, green_3ha, green_20ha, all_standards, unreachable,
       school_network_only, school_straight_only,
       CASE WHEN all_standards = 1 THEN 'met' WHEN unreachable * 2 > parcels THEN 'unreachable' ELSE 'not_met' END,
       %(unit)s, addresses, addresses_ok, geom
FROM (
    SELECT %(run)s::bigint AS run_id, city, 'precinct' AS level, coalesce(precinct, '?') AS area, count(*) AS parcels,
           avg(school_ok::int) AS school, avg(green_ok::int) AS green_3ha, avg(green20_ok::int) AS green_20ha,
           avg(all_ok::int) AS all_standards, count(*) FILTER (WHERE reason IS NOT NULL) AS unreachable,
           count(*) FILTER (WHERE school_ok AND NOT school_straight_ok) AS school_network_only,
           count(*) FILTER (WHERE school_straight_ok AND NOT school_ok) AS school_straight_only,
           sum(addresses) AS addresses,
           sum(addresses) FILTER (WHERE all_ok)::double precision / nullif(sum(addresses), 0) AS addresses_ok,
           ST_Multi(CASE WHEN %(unit)s = 'addresses' THEN ST_Buffer(ST_ConvexHull(ST_Collect(geom)), 25)
                         ELSE ST_CollectionExtract(ST_Union(geom), 3) END)::geometry(MultiPolygon, 2180) AS geom
    FROM analysis.parcel_access WHERE run_id = %(run)s GROUP BY city, coalesce(precinct, '?')
) s;

INSERT INTO analysis.area_summary (run_id, city, level, area, parcels, school, green_3ha, green_20ha, all_standards,
        unreachable, school_network_only, school_straight_only, status, unit, addresses, addresses_ok, geom)
SELECT %(run)s, city, 'gmina', city, sum(parcels), sum(school * parcels) / sum(parcels),
       sum(green_3ha * parcels) / sum(parcels), sum(green_20ha * parcels) / sum(parcels),
       sum(all_standards * parcels) / sum(parcels), sum(unreachable), sum(school_network_only),
       sum(school_straight_only),
       CASE WHEN bool_and(all_standards = 1) THEN 'met' WHEN sum(unreachable) * 2 > sum(parcels) THEN 'unreachable'
            ELSE 'not_met' END,
       %(unit)s, sum(addresses), sum(addresses_ok * addresses) / nullif(sum(addresses), 0),
       ST_Multi(ST_ConvexHull(ST_Collect(geom)))::geometry(MultiPolygon, 2180)
FROM analysis.area_summary WHERE run_id = %(run)s AND level = 'precinct'
GROUP BY city;
