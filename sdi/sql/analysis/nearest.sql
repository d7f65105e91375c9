-- The nearest facility of kind {kind} from every vertex within {limit} m, in ONE Dijkstra: a virtual vertex
-- (3e12) joined at cost 0 to every facility's own vertex is the one start, so each vertex's distance is its
-- nearest facility's (a search per facility to 6,000 m, 61 schools, returned 295,000 rows to sort for 10,000
-- vertices: 1.7-2.0 s of the goal's run for the three nearest kinds). Not pgRouting's equicost => true: in 3.4 it
-- kept a farther facility for some vertices (39 of 1,880 on the BDOT10k Warsaw extract, up to 116 m too long).
CREATE TEMP TABLE _dd ON COMMIT DROP AS
    SELECT d.node, d.agg_cost AS cost
    FROM pgr_drivingDistance(
        'SELECT id, source, target, cost, cost AS reverse_cost FROM _edges
         UNION ALL SELECT 2000000000000 + row_number() OVER (), vid, node, cost, cost FROM _att WHERE kind = '
         || quote_literal({kind}) || '
         UNION ALL SELECT 3000000000000 + row_number() OVER (), 3000000000000, vid, 0, -1 FROM _fac WHERE kind = '
         || quote_literal({kind}),
        3000000000000, {limit}, directed => false) d
    WHERE d.node <> 3000000000000;
CREATE INDEX ON _dd (node);
ANALYZE _dd;

-- Which facility: the one whose own search reaches the vertex at that distance, the lowest id among equals, as
-- a search per facility with DISTINCT ON (node) ... ORDER BY cost, fid kept. A facility reaches a vertex at its
-- distance along "tight" steps only (the step's start distance plus its cost is the end's distance, in the same
-- float8 sums as Dijkstra's), so its label spreads from its own vertex along them; every facility that ties
-- spreads too, and the lowest id is kept per vertex.
CREATE TEMP TABLE _tight ON COMMIT DROP AS
    SELECT a.node AS a, b.node AS b
    FROM (SELECT source AS x, target AS y, cost FROM _edges UNION ALL SELECT target, source, cost FROM _edges
          UNION ALL SELECT vid, node, cost FROM _att WHERE kind = {kind}
          UNION ALL SELECT node, vid, cost FROM _att WHERE kind = {kind}) s
    JOIN _dd a ON a.node = s.x JOIN _dd b ON b.node = s.y
    WHERE a.cost + s.cost = b.cost;
CREATE INDEX ON _tight (a);
ANALYZE _tight;

INSERT INTO _dist (kind, node, fid, cost)
    WITH RECURSIVE lab (node, fid) AS (
        SELECT vid, fid FROM _fac WHERE kind = {kind}
        UNION
        SELECT t.b, l.fid FROM lab l JOIN _tight t ON t.a = l.node
    )
    SELECT DISTINCT ON (l.node) {kind}, l.node, l.fid, d.cost
    FROM lab l JOIN _dd d ON d.node = l.node
    WHERE l.node < 1000000000000
    ORDER BY l.node, l.fid;
DROP TABLE _tight; DROP TABLE _dd;
