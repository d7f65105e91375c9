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
           coalesce(sum(addresses) FILTER (WHERE all_ok), 0)::double precision / nullif(sum(addresses), 0) AS addresses_ok,
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

-- Per planning zone of land_use_plans (local-plan zones and general-plan zones alike): the units whose point on
-- surface lies in the zone. Zones of one label in one plan count as one area.
CREATE TEMP TABLE _zones ON COMMIT DROP AS
    SELECT concat_ws(' / ', coalesce(z.zone_id, z.designation, 'zone ' || z.fid), z.plan_id) AS label,
           ST_Multi(ST_CollectionExtract(ST_Union(z.geom), 3))::geometry(MultiPolygon, 2180) AS geom
    FROM {land_use_plans} z WHERE z.city = %(city)s GROUP BY 1;
CREATE INDEX ON _zones USING gist (geom);

INSERT INTO analysis.area_summary (run_id, city, level, area, parcels, school, green_3ha, green_20ha, all_standards,
        unreachable, school_network_only, school_straight_only, status, unit, addresses, addresses_ok, geom)
SELECT %(run)s, %(city)s, 'plan_zone', s.label, s.parcels, s.school, s.green_3ha, s.green_20ha, s.all_standards,
       s.unreachable, s.school_network_only, s.school_straight_only,
       CASE WHEN s.all_standards = 1 THEN 'met' WHEN s.unreachable * 2 > s.parcels THEN 'unreachable'
            ELSE 'not_met' END,
       %(unit)s, s.addresses, s.addresses_ok, z.geom
FROM (
    SELECT z.label, count(*) AS parcels, avg(a.school_ok::int) AS school, avg(a.green_ok::int) AS green_3ha,
           avg(a.green20_ok::int) AS green_20ha, avg(a.all_ok::int) AS all_standards,
           count(*) FILTER (WHERE a.reason IS NOT NULL) AS unreachable,
           count(*) FILTER (WHERE a.school_ok AND NOT a.school_straight_ok) AS school_network_only,
           count(*) FILTER (WHERE a.school_straight_ok AND NOT a.school_ok) AS school_straight_only,
           sum(a.addresses) AS addresses,
           coalesce(sum(a.addresses) FILTER (WHERE a.all_ok), 0)::double precision / nullif(sum(a.addresses), 0) AS addresses_ok
    FROM _zones z JOIN analysis.parcel_access a
        ON a.run_id = %(run)s AND ST_Intersects(z.geom, ST_PointOnSurface(a.geom))
    GROUP BY z.label
) s JOIN _zones z USING (label);

-- Each facility's catchment: the units (and their address points) whose nearest facility of its kind it is,
-- within the standard's distance; a facility nobody has nearest within it is listed with 0.
INSERT INTO analysis.facility_catchment (run_id, kind, facility_fid, name, units, addresses)
SELECT %(run)s, f.kind, f.fid, f.name, coalesce(c.units, 0), coalesce(c.addresses, 0)
FROM (SELECT DISTINCT ON (kind, fid) kind, fid, name FROM _fac WHERE kind <> 'green' ORDER BY kind, fid) f
LEFT JOIN (
    SELECT 'primary_school' AS kind, school_fid AS fid, count(*) AS units, sum(addresses) AS addresses
    FROM analysis.parcel_access WHERE run_id = %(run)s AND school_ok GROUP BY school_fid
    UNION ALL
    SELECT 'green20', green20_fid, count(*), sum(addresses)
    FROM analysis.parcel_access WHERE run_id = %(run)s AND green20_ok GROUP BY green20_fid
    UNION ALL
    -- the optional kinds from the run's own nearest facilities (what `optional` was built from: ok is the distance
    -- within the limit), not by unpacking 50,000 JSON objects (0.2 s)
    SELECT n.kind, n.fac, count(*), sum(p.addresses)
    FROM _near n JOIN _limits l ON l.kind = n.kind AND l.optional JOIN _pp p ON p.fid = n.fid
    WHERE n.cost <= l.limit_m GROUP BY 1, 2
) c ON c.kind = f.kind AND c.fid = f.fid;
