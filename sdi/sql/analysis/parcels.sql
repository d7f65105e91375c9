-- Per parcel and kind: the nearest facility along the network, from the parcel's boundary (its access
-- distance to the street) through either end of its edge, or directly along the edge when the facility
-- is projected onto the same one.
CREATE INDEX ON _dist (kind, node);
-- Temporary tables have no statistics until analysed: without them the planner nested-loops 20k parcels.
ANALYZE _dist; ANALYZE _pp; ANALYZE _fac; ANALYZE _limits;
CREATE TEMP TABLE _near ON COMMIT DROP AS
    SELECT p.fid, l.kind, best.cost, best.fac
    FROM _pp p CROSS JOIN _limits l
    CROSS JOIN LATERAL (
        SELECT c AS cost, ffid AS fac FROM (
            SELECT d.cost + p.f * p.len + p.access_m AS c, d.fid AS ffid
            FROM _dist d WHERE d.kind = l.kind AND d.node = p.u
            UNION ALL
            SELECT d.cost + (1 - p.f) * p.len + p.access_m, d.fid FROM _dist d WHERE d.kind = l.kind AND d.node = p.v
            UNION ALL
            SELECT fc.access_m + p.access_m + abs(fc.f - p.f) * p.len, fc.fid
            FROM _fac fc WHERE fc.kind = l.kind AND fc.edge = p.edge
        ) q ORDER BY c LIMIT 1) best
    WHERE p.edge IS NOT NULL AND l.kind <> 'green';

-- Public green within the distance: the SUM of the areas of every green area reachable, not one park.
CREATE TEMP TABLE _green ON COMMIT DROP AS
    SELECT pf AS fid, sum(area_ha) AS ha FROM (
        SELECT q.pf, q.gf, min(fc.area_ha) AS area_ha FROM (
            SELECT p.fid AS pf, d.fid AS gf, d.cost + p.f * p.len + p.access_m AS c
            FROM _pp p JOIN _dist d ON d.kind = 'green' AND d.node = p.u
            UNION ALL
            SELECT p.fid, d.fid, d.cost + (1 - p.f) * p.len + p.access_m
            FROM _pp p JOIN _dist d ON d.kind = 'green' AND d.node = p.v
            UNION ALL
            SELECT p.fid, fc.fid, fc.access_m + p.access_m + abs(fc.f - p.f) * p.len
            FROM _pp p JOIN _fac fc ON fc.kind = 'green' AND fc.edge = p.edge
        ) q JOIN _fac fc ON fc.kind = 'green' AND fc.fid = q.gf
        GROUP BY q.pf, q.gf HAVING min(q.c) <= %(green_sum_m)s
    ) g GROUP BY pf;

INSERT INTO analysis.parcel_access (run_id, city, parcel_fid, parcel_id, precinct, town, access_m, school_m, school_fid,
        school_limit_m, school_ok, school_straight_ok, school_by_point, green_sum_ha, green_ok, green_straight_ok,
        green20_m, green20_fid, green20_ok, green20_straight_ok, optional, all_ok, reason, geom)
SELECT %(run)s, %(city)s, p.fid, p.parcel_id, p.precinct, p.town, p.access_m, s.cost, s.fac, p.school_limit,
       coalesce(s.cost <= p.school_limit, false),
       EXISTS (SELECT FROM _fac f WHERE f.kind = 'primary_school' AND ST_DWithin(f.geom, p.geom, p.school_limit)),
       (SELECT f.by_point FROM _fac f WHERE f.kind = 'primary_school' AND f.fid = s.fac LIMIT 1),
       coalesce(g.ha, 0), coalesce(g.ha, 0) >= %(green_sum_ha)s,
       coalesce((SELECT sum(f.area_ha) FROM _fac f WHERE f.kind = 'green'
                 AND ST_DWithin(f.geom, p.geom, %(green_sum_m)s)), 0) >= %(green_sum_ha)s,
       b.cost, b.fac, coalesce(b.cost <= %(green_big_m)s, false),
       EXISTS (SELECT FROM _fac f WHERE f.kind = 'green20' AND ST_DWithin(f.geom, p.geom, %(green_big_m)s)),
       coalesce(o.optional, '{{}}'),
       coalesce(s.cost <= p.school_limit, false) AND coalesce(g.ha, 0) >= %(green_sum_ha)s
           AND coalesce(b.cost <= %(green_big_m)s, false) AND coalesce(o.all_ok, true),
       CASE WHEN p.edge IS NULL THEN 'no street or path within ' || %(max_access)s || ' m of the parcel'
            WHEN s.cost IS NULL THEN 'no primary school reachable along the network (component '
                                     || p.component || ')' END,
       p.geom
FROM (SELECT _pp.*, {town} AS town,
             CASE WHEN {town} THEN %(school_town_m)s ELSE %(school_rural_m)s END::double precision AS school_limit
      FROM _pp) p
LEFT JOIN _near s ON s.fid = p.fid AND s.kind = 'primary_school'
LEFT JOIN _near b ON b.fid = p.fid AND b.kind = 'green20'
LEFT JOIN _green g ON g.fid = p.fid
LEFT JOIN LATERAL (
    SELECT jsonb_object_agg(l.kind, jsonb_build_object('m', round(n.cost::numeric, 2), 'fid', n.fac,
               'limit_m', l.limit_m, 'ok', coalesce(n.cost <= l.limit_m, false),
               'straight_ok', EXISTS (SELECT FROM _fac f WHERE f.kind = l.kind AND ST_DWithin(f.geom, p.geom, l.limit_m))
           )) AS optional,
           bool_and(coalesce(n.cost <= l.limit_m, false)) AS all_ok
    FROM _limits l LEFT JOIN _near n ON n.fid = p.fid AND n.kind = l.kind
    WHERE l.optional) o ON true;
