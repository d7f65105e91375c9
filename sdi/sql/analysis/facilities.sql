-- Parcels and facilities of run %(run)s projected onto the nearest edge of its network ("withPoints" by
-- hand: a point at fraction f of edge (u, v) is reached through u at f*len and through v at (1-f)*len).
CREATE TEMP TABLE _zone ON COMMIT DROP AS
    SELECT ST_SetSRID(ST_Expand(ST_Extent(geom)::geometry, %(max_access)s), 2180) AS geom
    FROM analysis.edges WHERE run_id = %(run)s;

CREATE TEMP TABLE _edges ON COMMIT DROP AS SELECT * FROM analysis.edges WHERE run_id = %(run)s;
CREATE INDEX ON _edges USING gist (geom);
ANALYZE _edges;

-- _pp: the units of analysis (parcels, address points or residential buildings: sdi.analysis.units).
{units};
CREATE TEMP TABLE _u ON COMMIT DROP AS
    SELECT p.fid, p.label AS parcel_id, p.precinct, p.addresses,
           CASE WHEN GeometryType(p.geom) LIKE '%%POLYGON' THEN ST_Multi(p.geom) ELSE p.geom END AS geom
    FROM _units p;
CREATE INDEX ON _u USING gist (geom);
ANALYZE _u (fid);

-- Each unit's nearest edge. Most units lie within %(near_m)s m of a street: from each edge's side, one index scan
-- of the units finds them all, and the nearest is kept per unit. Only the others, and the units equally near two
-- edges (whichever the index's KNN picks first stays their edge, as before), are looked up one by one by KNN.
-- A KNN per unit took 3.1 s of CPU for 50,000 addresses, this 1.1 s.
CREATE TEMP TABLE _pe ON COMMIT DROP AS
    SELECT fid, edge, d FROM (
        SELECT fid, edge, d, row_number() OVER w AS r, lead(d) OVER w AS next_d
        FROM (SELECT p.fid, e.id AS edge, ST_Distance(e.geom, p.geom) AS d
              FROM _edges e JOIN _u p ON p.geom && ST_Expand(e.geom, least(%(near_m)s, %(max_access)s))) c
        WINDOW w AS (PARTITION BY fid ORDER BY d, edge)) x
    WHERE r = 1 AND d <= least(%(near_m)s, %(max_access)s) AND next_d IS DISTINCT FROM d;
-- The nearest edge by the index's KNN alone, then the distance test: a DWithin inside the LATERAL made the planner
-- fetch every edge within 500 m and sort them, for each unit.
INSERT INTO _pe
    SELECT p.fid, n.id, n.d
    FROM _u p
    CROSS JOIN LATERAL (SELECT * FROM (SELECT e.id, e.geom, ST_Distance(e.geom, p.geom) AS d FROM _edges e
                                       ORDER BY e.geom <-> p.geom LIMIT 1) k
                        WHERE ST_DWithin(k.geom, p.geom, %(max_access)s)) n
    WHERE NOT EXISTS (SELECT FROM _pe x WHERE x.fid = p.fid);
ANALYZE _pe;

CREATE TEMP TABLE _pp ON COMMIT DROP AS
    SELECT p.fid, p.parcel_id, p.precinct, p.addresses, p.geom,
           e.id AS edge, e.source AS u, e.target AS v, e.cost AS len, e.component,
           ST_LineLocatePoint(e.geom, ST_ClosestPoint(e.geom, p.geom)) AS f, ST_Distance(e.geom, p.geom) AS access_m
    FROM _u p LEFT JOIN _pe n ON n.fid = p.fid LEFT JOIN _edges e ON e.id = n.edge;
CREATE INDEX ON _pp USING gist (geom);

-- Every facility in the network's area, whichever city loaded it. A school is its building: the building
-- holding its point, or the nearest one within %(building_m)s m; otherwise its point (school_by_point).
CREATE TEMP TABLE _fac_raw ON COMMIT DROP AS
    SELECT 'primary_school'::text AS kind, s.fid, coalesce(b.geom, s.geom) AS geom, b.geom IS NULL AS by_point,
           0::double precision AS area_ha, s.name::text AS name
    FROM {public_services} s JOIN _zone a ON s.geom && a.geom
    LEFT JOIN LATERAL (SELECT bb.geom FROM {buildings} bb WHERE ST_DWithin(bb.geom, s.geom, %(building_m)s)
                       ORDER BY bb.geom <-> s.geom LIMIT 1) b ON true
    WHERE s.service_type = 'primary_school'
    UNION ALL
    SELECT 'green', g.fid, g.geom, false, ST_Area(g.geom) / 10000, g.name
    FROM {green_areas} g JOIN _zone a ON g.geom && a.geom
    WHERE g.publicly_accessible IS DISTINCT FROM false
    UNION ALL
    SELECT 'green20', g.fid, g.geom, false, ST_Area(g.geom) / 10000, g.name
    FROM {green_areas} g JOIN _zone a ON g.geom && a.geom
    WHERE g.publicly_accessible IS DISTINCT FROM false AND ST_Area(g.geom) >= %(big_ha)s * 10000
    UNION ALL
    SELECT s.service_type, s.fid, s.geom, true, 0, s.name FROM {public_services} s JOIN _zone a ON s.geom && a.geom
    WHERE s.service_type = ANY(%(optional)s)
    UNION ALL
    SELECT 'stop', t.fid, t.geom, true, 0, t.name FROM {public_transport_stops} t JOIN _zone a ON t.geom && a.geom
    WHERE 'stop' = ANY(%(optional)s);

CREATE TEMP TABLE _fac ON COMMIT DROP AS
    SELECT 1000000000000 + row_number() OVER () AS vid, r.*, e.id AS edge, e.source AS u, e.target AS v,
           e.cost AS len, ST_LineLocatePoint(e.geom, ST_ClosestPoint(e.geom, r.geom)) AS f,
           ST_Distance(e.geom, r.geom) AS access_m
    FROM _fac_raw r
    CROSS JOIN LATERAL (SELECT * FROM (SELECT * FROM _edges e ORDER BY e.geom <-> r.geom LIMIT 1) n
                        WHERE ST_DWithin(n.geom, r.geom, %(max_access)s)) e;
CREATE INDEX ON _fac USING gist (geom);

-- The edges that join each facility's own vertex to the network. A green area is measured to its boundary:
-- besides its projection it is joined to every network vertex within %(attach_m)s m of it.
CREATE TEMP TABLE _att ON COMMIT DROP AS
    SELECT kind, vid, fid, node, cost FROM (
        SELECT kind, vid, fid, u AS node, access_m + f * len AS cost FROM _fac
        UNION ALL SELECT kind, vid, fid, v, access_m + (1 - f) * len FROM _fac
        UNION ALL
        -- from each green area's side: the edges within reach by the index, then their ends (a probe of the
        -- facilities for each of the 10,000 vertices took 0.2 s)
        SELECT DISTINCT ON (fc.vid, x.node) fc.kind, fc.vid, fc.fid, x.node, ST_Distance(x.p, fc.geom)
        FROM _fac fc
        JOIN _edges e ON ST_DWithin(e.geom, fc.geom, %(attach_m)s)
        CROSS JOIN LATERAL (VALUES (e.source, ST_StartPoint(e.geom)), (e.target, ST_EndPoint(e.geom))) x(node, p)
        WHERE fc.kind IN ('green', 'green20') AND ST_DWithin(x.p, fc.geom, %(attach_m)s)
    ) a;
CREATE INDEX ON _att (kind);
CREATE TEMP TABLE _dist (kind text, node bigint, fid bigint, cost double precision) ON COMMIT DROP;
