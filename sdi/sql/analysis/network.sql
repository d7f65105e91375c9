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
-- spatial index cost 0.7 s of index probes for 20,200 lines, the grid 0.1 s. Each pair whose boxes overlap is
-- taken once, in the cell of the lower left corner of the overlap (no DISTINCT); lines whose boxes do not overlap
-- cannot meet. Two straight segments (two points each) that share one end meet only there unless they run the
-- same way from it (collinear, pointing alike): decided by their ends' coordinates (cross and dot products, with
-- a margin of 1e-3 m2 far above their rounding error of 1e-8 m2) without ST_Relate, which cost 0.5 s for the
-- 60,000 pairs of a 20,200-segment grid.
CREATE TEMP TABLE _box ON COMMIT DROP AS
    SELECT id, ST_XMin(geom) AS x_lo, ST_YMin(geom) AS y_lo, ST_XMax(geom) AS x_hi, ST_YMax(geom) AS y_hi,
           CASE WHEN two THEN ST_X(ST_StartPoint(geom)) END AS x0,
           CASE WHEN two THEN ST_Y(ST_StartPoint(geom)) END AS y0,
           CASE WHEN two THEN ST_X(ST_EndPoint(geom)) END AS x1, CASE WHEN two THEN ST_Y(ST_EndPoint(geom)) END AS y1
    FROM (SELECT id, geom, ST_NPoints(geom) = 2 AS two FROM _all) a;
CREATE TEMP TABLE _cell ON COMMIT DROP AS
    SELECT id, cx, cy FROM _box,
        generate_series(floor(x_lo / 100)::int, floor(x_hi / 100)::int) cx,
        generate_series(floor(y_lo / 100)::int, floor(y_hi / 100)::int) cy;
ANALYZE _cell; ANALYZE _box (id); ANALYZE _all (id);
-- The pairs that ST_Relate must decide; the others (a's, b's other end seen from the one shared end: u, v) meet
-- only at that end: not collinear, or collinear but pointing away from each other.
CREATE TEMP TABLE _pairs ON COMMIT DROP AS
    SELECT a, b FROM (
        SELECT a, b, one_end, CASE WHEN a0 THEN ax1 - ax0 ELSE ax0 - ax1 END AS ux,
               CASE WHEN a0 THEN ay1 - ay0 ELSE ay0 - ay1 END AS uy,
               CASE WHEN b0 THEN bx1 ELSE bx0 END - CASE WHEN a0 THEN ax0 ELSE ax1 END AS vx,
               CASE WHEN b0 THEN by1 ELSE by0 END - CASE WHEN a0 THEN ay0 ELSE ay1 END AS vy
        FROM (
            -- a0: a's start is an end of b; one_end: exactly one of a's ends is; b0: b's start is an end of a
            SELECT a.id AS a, b.id AS b, a.x0 AS ax0, a.y0 AS ay0, a.x1 AS ax1, a.y1 AS ay1,
                   b.x0 AS bx0, b.y0 AS by0, b.x1 AS bx1, b.y1 AS by1,
                   (a.x0 = b.x0 AND a.y0 = b.y0) OR (a.x0 = b.x1 AND a.y0 = b.y1) AS a0,
                   ((a.x0 = b.x0 AND a.y0 = b.y0) OR (a.x0 = b.x1 AND a.y0 = b.y1))
                       <> ((a.x1 = b.x0 AND a.y1 = b.y0) OR (a.x1 = b.x1 AND a.y1 = b.y1)) AS one_end,
                   (b.x0 = a.x0 AND b.y0 = a.y0) OR (b.x0 = a.x1 AND b.y0 = a.y1) AS b0
            FROM _cell ca JOIN _cell cb USING (cx, cy) JOIN _box a ON a.id = ca.id JOIN _box b ON b.id = cb.id
            WHERE ca.id < cb.id
              AND a.x_lo <= b.x_hi AND b.x_lo <= a.x_hi AND a.y_lo <= b.y_hi AND b.y_lo <= a.y_hi
              AND floor(greatest(a.x_lo, b.x_lo) / 100)::int = cx
              AND floor(greatest(a.y_lo, b.y_lo) / 100)::int = cy) e) t
    WHERE one_end IS NOT TRUE OR (abs(ux * vy - uy * vx) <= 1e-3 AND ux * vx + uy * vy >= -1e-3);
ANALYZE _pairs;
CREATE TEMP TABLE _cross ON COMMIT DROP AS
    SELECT a.id FROM _all a WHERE NOT ST_IsSimple(a.geom)
    UNION
    SELECT x.id
    FROM _pairs p JOIN _all a ON a.id = p.a JOIN _all b ON b.id = p.b, LATERAL (VALUES (a.id), (b.id)) x(id)
    WHERE NOT ST_Relate(a.geom, b.geom, 'FF*F*****');
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
