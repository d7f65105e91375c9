-- The walking network of run %(run)s for city %(city)s: roads (minus motorways and expressways) and
-- cycle/foot paths of ANY city within %(margin)s m of the city's parcels, so that a school across the
-- border counts. Real BDOT10k lines end short of each other: a dangling end within %(snap)s m of another
-- line gets a connector to the closest point of it; then everything is noded at its crossings.
CREATE TEMP TABLE _area ON COMMIT DROP AS
    SELECT ST_SetSRID(ST_Expand(ST_Extent(geom)::geometry, %(margin)s), 2180) AS geom
    FROM {units} u WHERE u.city = %(city)s;

-- Planned routes (art. 13f ust. 4, a what-if run): a road zone of a local plan becomes the axis of its
-- oriented envelope, from the middle of one short side to the middle of the other. Its ends lie on the
-- zone's edge, metres from the street it joins, so they connect within 25 m rather than the snap distance.
CREATE TEMP TABLE _planned ON COMMIT DROP AS
    SELECT CASE WHEN ST_Distance(p0, p1) >= ST_Distance(p1, p2)
                THEN ST_MakeLine(ST_Centroid(ST_MakeLine(p1, p2)), ST_Centroid(ST_MakeLine(p3, p0)))
                ELSE ST_MakeLine(ST_Centroid(ST_MakeLine(p0, p1)), ST_Centroid(ST_MakeLine(p2, p3))) END AS geom
    FROM (SELECT ST_PointN(r, 1) AS p0, ST_PointN(r, 2) AS p1, ST_PointN(r, 3) AS p2, ST_PointN(r, 4) AS p3
          FROM (SELECT ST_ExteriorRing(ST_OrientedEnvelope((ST_Dump(z.geom)).geom)) AS r
                FROM {planned} z, _area a WHERE z.geom && a.geom) e
          WHERE ST_NPoints(r) = 5) c;

CREATE TEMP TABLE _lines ON COMMIT DROP AS
    SELECT row_number() OVER () AS id, origin, geom FROM (
        SELECT origin, (ST_Dump(ST_SnapToGrid(ST_Force2D(s.geom), 0.01))).geom AS geom FROM (
            SELECT 'roads' AS origin, r.geom FROM {roads} r, _area a
            WHERE r.geom && a.geom AND coalesce(r.technical_class, '') NOT IN ('motorway', 'expressway')
            UNION ALL
            SELECT 'cycle_paths', c.geom FROM {cycle_paths} c, _area a WHERE c.geom && a.geom
            UNION ALL
            SELECT 'planned', geom FROM _planned
        ) s
    ) d WHERE ST_Length(geom) > 0.01;
CREATE INDEX ON _lines USING gist (geom);

CREATE TEMP TABLE _ends ON COMMIT DROP AS
    SELECT id, origin, p, round(ST_X(p) * 100)::bigint AS kx, round(ST_Y(p) * 100)::bigint AS ky
    FROM (SELECT id, origin, ST_StartPoint(geom) AS p FROM _lines
          UNION ALL SELECT id, origin, ST_EndPoint(geom) FROM _lines) q;

-- An end that another line's end shares exactly (the lines are on a 1 cm grid) is no dangling end: only the
-- others need the spatial tests below (most ends of a street network are shared; testing all 40,400 ends of a
-- 20,200-segment network took 1.8 s).
CREATE TEMP TABLE _lone ON COMMIT DROP AS
    SELECT e.* FROM _ends e
    WHERE NOT EXISTS (SELECT FROM _ends o WHERE o.kx = e.kx AND o.ky = e.ky AND o.id <> e.id);

-- Dangling ends (no other line within 1 cm) joined to the nearest other line within the snap distance.
CREATE TEMP TABLE _connectors ON COMMIT DROP AS
    SELECT ST_MakeLine(e.p, ST_SnapToGrid(ST_ClosestPoint(o.geom, e.p), 0.01)) AS geom, o.id AS other
    FROM _lone e
    CROSS JOIN LATERAL (SELECT l.id, l.geom FROM _lines l WHERE l.id <> e.id
                        AND ST_DWithin(l.geom, e.p, CASE WHEN e.origin = 'planned' THEN 25 ELSE %(snap)s END)
                        ORDER BY l.geom <-> e.p LIMIT 1) o
    WHERE NOT EXISTS (SELECT FROM _lines t WHERE t.id <> e.id AND ST_DWithin(t.geom, e.p, 0.01))
      AND ST_Distance(o.geom, e.p) > 0.01;

-- The connector's far end becomes a vertex of the line it reaches, so that noding splits that line there.
CREATE TEMP TABLE _all ON COMMIT DROP AS
    SELECT row_number() OVER () AS id, origin, geom FROM (
    SELECT l.origin, coalesce(ST_Snap(l.geom, c.ends, 0.02), l.geom) AS geom
    FROM _lines l
    LEFT JOIN (SELECT other, ST_Collect(ST_EndPoint(geom)) AS ends FROM _connectors GROUP BY other) c
        ON c.other = l.id
    UNION ALL SELECT 'connector', geom FROM _connectors) u;

-- Only the lines that cross, overlap or are touched inside (not just at their ends), or cross themselves,
-- need noding: BDOT10k cuts its streets at most crossings already. ST_Node over every line of a 20,200-segment
-- network took 3.7 s of its 9 s build; the rest pass through as they are, their origin known. The pairs to test
-- come from a grid of 100 m cells (a line is in every cell its box covers) by a hash join: a self-join by the
-- spatial index cost 0.7 s of index probes for 20,200 lines, the grid 0.1 s.
CREATE TEMP TABLE _cell ON COMMIT DROP AS
    SELECT id, cx, cy FROM _all,
        generate_series(floor(ST_XMin(geom) / 100)::int, floor(ST_XMax(geom) / 100)::int) cx,
        generate_series(floor(ST_YMin(geom) / 100)::int, floor(ST_YMax(geom) / 100)::int) cy;
ANALYZE _cell; ANALYZE _all (id);
-- Two straight segments (two points each) that share one end and are not collinear meet only there: no noding,
-- decided by their ends' coordinates (|cross product| over 1e-3 m2, far above its rounding error of 1e-8 m2 here)
-- without ST_Relate, which cost 0.5 s for the 60,000 pairs of a 20,200-segment grid. Every other pair as before.
CREATE TEMP TABLE _seg ON COMMIT DROP AS
    SELECT id, ST_X(ST_StartPoint(geom)) AS x0, ST_Y(ST_StartPoint(geom)) AS y0,
           ST_X(ST_EndPoint(geom)) AS x1, ST_Y(ST_EndPoint(geom)) AS y1
    FROM _all WHERE ST_NPoints(geom) = 2;
ANALYZE _seg (id);
CREATE TEMP TABLE _cross ON COMMIT DROP AS
    SELECT a.id FROM _all a WHERE NOT ST_IsSimple(a.geom)
    UNION
    SELECT x.id
    FROM (SELECT DISTINCT a.id AS a, b.id AS b FROM _cell a JOIN _cell b USING (cx, cy) WHERE a.id < b.id) p
    JOIN _all a ON a.id = p.a JOIN _all b ON b.id = p.b
    LEFT JOIN _seg sa ON sa.id = p.a LEFT JOIN _seg sb ON sb.id = p.b
    -- k: which ends are shared; t: from the one shared end, to the other end of each segment (u, v)
    LEFT JOIN LATERAL (SELECT (sa.x0, sa.y0) IN ((sb.x0, sb.y0), (sb.x1, sb.y1)) AS a0,
                              (sa.x1, sa.y1) IN ((sb.x0, sb.y0), (sb.x1, sb.y1)) AS a1,
                              (sb.x0, sb.y0) IN ((sa.x0, sa.y0), (sa.x1, sa.y1)) AS b0) k ON true
    LEFT JOIN LATERAL (SELECT CASE WHEN k.a0 THEN sa.x1 - sa.x0 ELSE sa.x0 - sa.x1 END AS ux,
                              CASE WHEN k.a0 THEN sa.y1 - sa.y0 ELSE sa.y0 - sa.y1 END AS uy,
                              CASE WHEN k.b0 THEN sb.x1 ELSE sb.x0 END - CASE WHEN k.a0 THEN sa.x0 ELSE sa.x1 END AS vx,
                              CASE WHEN k.b0 THEN sb.y1 ELSE sb.y0 END - CASE WHEN k.a0 THEN sa.y0 ELSE sa.y1 END AS vy
                       WHERE k.a0::int + k.a1::int = 1) t ON true,
    LATERAL (VALUES (a.id), (b.id)) x(id)
    WHERE a.geom && b.geom
      AND (t.ux IS NULL OR abs(t.ux * t.vy - t.uy * t.vx) <= 1e-3)
      AND NOT ST_Relate(a.geom, b.geom, 'FF*F*****');
-- only now: with the index there, the planner chose it over the grid for the pairs above
CREATE INDEX ON _all USING gist (geom);

CREATE TEMP TABLE _noded ON COMMIT DROP AS
    SELECT row_number() OVER () AS id, ST_SnapToGrid(d.geom, 0.01) AS geom, d.origin FROM (
        SELECT (ST_Dump(ST_Node(ST_Collect(geom)))).geom, NULL::text AS origin FROM _all
        WHERE id IN (SELECT id FROM _cross) HAVING count(*) > 0
        UNION ALL
        SELECT geom, origin FROM _all WHERE id NOT IN (SELECT id FROM _cross)
    ) d;
DELETE FROM _noded WHERE ST_Length(geom) <= 0.01;

CREATE TEMP TABLE _vertices ON COMMIT DROP AS
    SELECT row_number() OVER () AS vid, kx, ky FROM (
        SELECT DISTINCT round(ST_X(p) * 100)::bigint AS kx, round(ST_Y(p) * 100)::bigint AS ky
        FROM (SELECT ST_StartPoint(geom) AS p FROM _noded UNION ALL SELECT ST_EndPoint(geom) FROM _noded) q
    ) k;
CREATE INDEX ON _vertices (kx, ky);

CREATE TEMP TABLE _net ON COMMIT DROP AS
    SELECT n.id, s.vid AS source, t.vid AS target, ST_Length(n.geom) AS cost,
           coalesce(n.origin, (SELECT a.origin FROM _all a
                               WHERE ST_DWithin(a.geom, ST_LineInterpolatePoint(n.geom, 0.5), 0.03)
                               ORDER BY a.origin = 'connector' DESC LIMIT 1), 'roads') AS origin,
           n.geom
    FROM _noded n
    JOIN _vertices s ON s.kx = round(ST_X(ST_StartPoint(n.geom)) * 100)::bigint
                    AND s.ky = round(ST_Y(ST_StartPoint(n.geom)) * 100)::bigint
    JOIN _vertices t ON t.kx = round(ST_X(ST_EndPoint(n.geom)) * 100)::bigint
                    AND t.ky = round(ST_Y(ST_EndPoint(n.geom)) * 100)::bigint
    WHERE s.vid <> t.vid;

-- Each edge's connected component with it, in one insert: an UPDATE of the stored edges afterwards rewrote every
-- row and its index entries again (0.65 s for 20,200 edges; the components themselves take 0.04 s).
INSERT INTO analysis.edges (run_id, id, source, target, cost, origin, geom, component)
    SELECT %(run)s, n.id, n.source, n.target, n.cost, n.origin, n.geom, c.component
    FROM _net n
    LEFT JOIN pgr_connectedComponents('SELECT id, source, target, cost, cost AS reverse_cost FROM _net') c
        ON c.node = n.source
    ORDER BY n.id;
