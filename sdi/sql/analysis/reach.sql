-- Network distance from the facilities of one kind to every vertex within {limit} m: one search per
-- facility in one call (many start vertices). {nearest}: each vertex keeps only its nearest facility.
-- Not pgRouting's equicost => true: in 3.4 it kept a farther facility for some vertices (39 of 1,880 on
-- the BDOT10k Warsaw extract, up to 116 m too long; tests/test_analysis_real.py compares with networkx), so
-- every facility's distances are returned and the nearest is chosen here.
INSERT INTO _dist (kind, node, fid, cost)
    SELECT DISTINCT ON (d.node, CASE WHEN {nearest} THEN 0 ELSE f.fid END) {kind}, d.node, f.fid, d.agg_cost
    FROM pgr_drivingDistance(
        'SELECT id, source, target, cost, cost AS reverse_cost FROM _edges
         UNION ALL SELECT 2000000000000 + row_number() OVER (), vid, node, cost, cost FROM _att WHERE kind = '
         || quote_literal({kind}),
        ARRAY(SELECT vid FROM _fac WHERE kind = {kind}), {limit}, directed => false, equicost => false) d
    JOIN _fac f ON f.vid = d.{start} AND f.kind = {kind}
    WHERE d.node < 1000000000000
    ORDER BY d.node, CASE WHEN {nearest} THEN 0 ELSE f.fid END, d.agg_cost, f.fid;
