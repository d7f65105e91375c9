-- Per parcel and kind: the nearest facility along the network, from the parcel's boundary (its access
-- distance to the street) through either end of its edge, or directly along the edge when the facility
-- is projected onto the same one. Set-based: hash joins, the shortest kept per (parcel, kind). A LATERAL subquery
-- per parcel and kind took 56.6 s on 19,600 parcels (benchmarks/analysis_bench.py --blocks 70).
-- Temporary tables have no statistics until analysed: without them the planner nested-loops 20k parcels. Only the
-- join keys: a geometry column's statistics cost more than the rest (ANALYZE _pp: 0.25 s of 50,000 units).
ANALYZE _dist; ANALYZE _pp (fid, edge, u, v); ANALYZE _fac; ANALYZE _limits;

-- The nearest kinds: reach.sql kept one facility per vertex and kind, so a unit's candidates are its edge's two ends
-- and the facilities projected onto its own edge; the shortest is kept per (unit, kind).
CREATE TEMP TABLE _near ON COMMIT DROP AS
    SELECT DISTINCT ON (fid, kind) fid, kind, cost, fac FROM (
        SELECT p.fid, d.kind, d.fid AS fac, d.cost + p.f * p.len + p.access_m AS cost
        FROM _pp p JOIN _dist d ON d.node = p.u WHERE d.kind <> 'green'
        UNION ALL
        SELECT p.fid, d.kind, d.fid, d.cost + (1 - p.f) * p.len + p.access_m
        FROM _pp p JOIN _dist d ON d.node = p.v WHERE d.kind <> 'green'
        UNION ALL
        SELECT p.fid, fc.kind, fc.fid, fc.access_m + p.access_m + abs(fc.f - p.f) * p.len
        FROM _pp p JOIN _fac fc ON fc.edge = p.edge WHERE fc.kind <> 'green'
    ) c
    ORDER BY fid, kind, cost, fac;

-- Public green within the distance: the SUM of the areas of every green area reachable, not one park (each counted
-- once, whichever of its routes is within the distance). Per edge first: each green area reachable from either end
-- of it, or projected onto it, in one row (du, dv: from its ends; fa, ff: its own access and place on the edge),
-- so that each unit only tests the rows of its own edge (a join of every unit with both ends' distances, and a
-- dedup of the 950,000 pairs it made, took 2.4 s of a 50,000-address run).
CREATE TEMP TABLE _e ON COMMIT DROP AS SELECT DISTINCT edge, u, v FROM _pp WHERE edge IS NOT NULL;
CREATE TEMP TABLE _eg ON COMMIT DROP AS
    SELECT edge, fac, min(du) AS du, min(dv) AS dv, min(fa) AS fa, min(ff) AS ff FROM (
        SELECT e.edge, d.fid AS fac, d.cost AS du, NULL::float8 AS dv, NULL::float8 AS fa, NULL::float8 AS ff
        FROM _e e JOIN _dist d ON d.node = e.u WHERE d.kind = 'green'
        UNION ALL
        SELECT e.edge, d.fid, NULL, d.cost, NULL, NULL FROM _e e JOIN _dist d ON d.node = e.v WHERE d.kind = 'green'
        UNION ALL
        SELECT fc.edge, fc.fid, NULL, NULL, fc.access_m, fc.f FROM _fac fc WHERE fc.kind = 'green'
    ) g
    GROUP BY edge, fac;
ANALYZE _eg (edge);
CREATE TEMP TABLE _green ON COMMIT DROP AS
    SELECT q.fid, sum(f.area_ha) AS ha
    FROM (SELECT p.fid, c.fac FROM _pp p JOIN _eg c ON c.edge = p.edge
          WHERE c.du + p.f * p.len + p.access_m <= %(green_sum_m)s
             OR c.dv + (1 - p.f) * p.len + p.access_m <= %(green_sum_m)s
             OR c.fa + p.access_m + abs(c.ff - p.f) * p.len <= %(green_sum_m)s) q
    JOIN _fac f ON f.kind = 'green' AND f.fid = q.fac
    GROUP BY q.fid;

CREATE TEMP TABLE _town ON COMMIT DROP AS
    SELECT fid, town, CASE WHEN town THEN %(school_town_m)s ELSE %(school_rural_m)s END::double precision AS school_limit
    FROM (SELECT _pp.fid, {town} AS town FROM _pp) t;
ANALYZE _town;

-- The straight line, to show what a buffer would have said: whether a facility of each kind lies within the
-- distance (one row per unit and kind when it does). Exact, and mostly without a distance per facility: a unit in
-- the union of the facilities' buffers passes (a buffer's arcs are chords inside the true circle), a unit outside
-- the buffers widened by 0.5 %% + 1 m fails (they hold the true circle), and only the units in the ring between get
-- ST_DWithin against the facilities. An EXISTS with ST_DWithin for every unit and kind took 3.4 s of a
-- 50,000-address run; the nearest facility by KNN before it, 13.4 s (benchmarks/analysis_bench.py --goal).
-- The school's limits the units have (town, rural): a limit no unit has needs no buffers.
CREATE TEMP TABLE _slim ON COMMIT DROP AS
    SELECT l.kind, coalesce(x.lim, l.limit_m) AS lim
    FROM _limits l
    LEFT JOIN (VALUES (%(school_town_m)s::float8), (%(school_rural_m)s::float8)) x(lim) ON l.kind = 'primary_school'
    WHERE l.kind <> 'green' AND (x.lim IS NULL OR x.lim IN (SELECT school_limit FROM _town)) GROUP BY 1, 2;
CREATE TEMP TABLE _su ON COMMIT DROP AS
    SELECT k.kind, k.lim, ST_Union(ST_Buffer(f.geom, k.lim)) AS inner_geom,
           ST_Union(ST_Buffer(f.geom, k.lim * 1.005 + 1)) AS outer_geom
    FROM _slim k JOIN _fac f ON f.kind = k.kind
    GROUP BY k.kind, k.lim;
-- in: the buffers' union; ring: the widened buffers' union minus the buffers' union shrunk by 1 cm (a unit outside
-- the buffers is in the ring whenever it is in the widened ones, however GEOS rounds the difference's vertices)
CREATE TEMP TABLE _sz ON COMMIT DROP AS
    SELECT kind, lim, 'in' AS ring, ST_Subdivide(inner_geom, 64) AS geom FROM _su
    UNION ALL
    SELECT kind, lim, 'ring', ST_Subdivide(ST_Difference(outer_geom, ST_Buffer(inner_geom, -0.01)), 64) FROM _su;
CREATE INDEX ON _sz USING gist (geom);
ANALYZE _sz;
-- The units inside the buffers, and those in the ring, from each piece's side: one index scan of the units per
-- piece, where the polygon stays the same and PostGIS prepares it once (probing the pieces once per unit and kind
-- took 1.2 s of 1.9 s; probing the widened buffers for each of the 17,000 units and kinds outside, 0.35 s).
CREATE TEMP TABLE _sin ON COMMIT DROP AS
    SELECT p.fid, z.kind, z.lim, z.ring FROM _sz z JOIN _pp p ON ST_Intersects(z.geom, p.geom);
ANALYZE _sin;
-- One row per unit and kind that passes: inside the buffers of its limit, or in the ring and within the limit of a
-- facility (a join of the unit's rows; every unit and kind tested against both sets took 0.5 s).
CREATE TEMP TABLE _straight ON COMMIT DROP AS
    SELECT DISTINCT s.fid, s.kind
    FROM _sin s JOIN _town t ON t.fid = s.fid JOIN _pp p ON p.fid = s.fid
    WHERE (s.kind <> 'primary_school' OR s.lim = t.school_limit)
      AND (s.ring = 'in' OR EXISTS (SELECT FROM _fac f WHERE f.kind = s.kind AND ST_DWithin(f.geom, p.geom, s.lim)));
-- The 3 ha green sum by straight line: a unit inside the buffer of one green area of that size alone passes (the
-- buffer's arcs are chords inside the true circle, and the sum of the others cannot lower it); only the others need
-- the sum over every green area within the distance. On the goal's 50,000 addresses 81 %% passed by one area; the
-- sum for every unit took 1.0 s.
CREATE TEMP TABLE _gsure ON COMMIT DROP AS
    SELECT DISTINCT p.fid
    FROM (SELECT ST_Subdivide(ST_Union(ST_Buffer(f.geom, %(green_sum_m)s)), 64) AS geom
          FROM _fac f WHERE f.kind = 'green' AND f.area_ha >= %(green_sum_ha)s) z
    JOIN _pp p ON ST_Intersects(z.geom, p.geom);
CREATE TEMP TABLE _grest ON COMMIT DROP AS
    SELECT p.fid, p.geom FROM _pp p WHERE NOT EXISTS (SELECT FROM _gsure s WHERE s.fid = p.fid);
CREATE INDEX ON _grest USING gist (geom);
ANALYZE _gsure; ANALYZE _grest (fid);
CREATE TEMP TABLE _green_straight ON COMMIT DROP AS
    SELECT p.fid, sum(f.area_ha) AS ha
    FROM _grest p JOIN _fac f ON f.kind = 'green' AND ST_DWithin(f.geom, p.geom, %(green_sum_m)s)
    GROUP BY p.fid;

-- The optional kinds as one JSON object per unit, {{kind: {{m, fid, limit_m, ok, straight_ok}}}}, built by one
-- jsonb_build_object over a join per kind (written by sdi.analysis.access): jsonb_object_agg over a row per
-- unit and kind, sorted by unit, took 0.7 s of 50,000 addresses with one kind.
CREATE TEMP TABLE _opt ON COMMIT DROP AS {optional};
ANALYZE _near (fid, kind); ANALYZE _green; ANALYZE _straight; ANALYZE _green_straight; ANALYZE _opt (fid);

INSERT INTO analysis.parcel_access (run_id, city, parcel_fid, parcel_id, precinct, town, access_m, school_m, school_fid,
        school_limit_m, school_ok, school_straight_ok, school_by_point, green_sum_ha, green_ok, green_straight_ok,
        green20_m, green20_fid, green20_ok, green20_straight_ok, optional, all_ok, reason, unit, addresses, geom)
SELECT %(run)s, %(city)s, p.fid, p.parcel_id, p.precinct, t.town, p.access_m, s.cost, s.fac, t.school_limit,
       coalesce(s.cost <= t.school_limit, false),
       ss.fid IS NOT NULL,
       sf.by_point,
       coalesce(g.ha, 0), coalesce(g.ha, 0) >= %(green_sum_ha)s,
       gq.fid IS NOT NULL OR coalesce(gs.ha, 0) >= %(green_sum_ha)s,
       b.cost, b.fac, coalesce(b.cost <= %(green_big_m)s, false),
       bs.fid IS NOT NULL,
       coalesce(o.optional, '{{}}'),
       coalesce(s.cost <= t.school_limit, false) AND coalesce(g.ha, 0) >= %(green_sum_ha)s
           AND coalesce(b.cost <= %(green_big_m)s, false) AND coalesce(o.all_ok, true),
       CASE WHEN p.edge IS NULL THEN 'no street or path within ' || %(max_access)s || ' m of the parcel'
            WHEN s.cost IS NULL THEN 'no primary school reachable along the network (component '
                                     || p.component || ')' END,
       %(units)s, p.addresses, p.geom
FROM _pp p
JOIN _town t ON t.fid = p.fid
LEFT JOIN _near s ON s.fid = p.fid AND s.kind = 'primary_school'
LEFT JOIN _straight ss ON ss.fid = p.fid AND ss.kind = 'primary_school'
LEFT JOIN (SELECT DISTINCT ON (fid) fid, by_point FROM _fac WHERE kind = 'primary_school' ORDER BY fid) sf
    ON sf.fid = s.fac
LEFT JOIN _near b ON b.fid = p.fid AND b.kind = 'green20'
LEFT JOIN _straight bs ON bs.fid = p.fid AND bs.kind = 'green20'
LEFT JOIN _green g ON g.fid = p.fid
LEFT JOIN _green_straight gs ON gs.fid = p.fid
LEFT JOIN _gsure gq ON gq.fid = p.fid
LEFT JOIN _opt o ON o.fid = p.fid
-- in key order: the primary key's B-tree then fills page after page instead of splitting pages all over
ORDER BY p.fid;
