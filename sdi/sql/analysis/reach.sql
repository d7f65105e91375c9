-- Network distance from the facilities of one kind to every vertex within {limit} m. Multi-source:
-- one search from all of them at once ({equicost}: each vertex keeps only its nearest facility).
INSERT INTO _dist (kind, node, fid, cost)
    SELECT {kind}, d.node, f.fid, d.agg_cost
    FROM pgr_drivingDistance(
        'SELECT id, source, target, cost, cost AS reverse_cost FROM _edges
         UNION ALL SELECT 2000000000000 + row_number() OVER (), vid, node, cost, cost FROM _att WHERE kind = '
         || quote_literal({kind}),
        ARRAY(SELECT vid FROM _fac WHERE kind = {kind}), {limit}, directed => false, equicost => {equicost}) d
    JOIN _fac f ON f.vid = d.{start} AND f.kind = {kind}
    WHERE d.node < 1000000000000;
