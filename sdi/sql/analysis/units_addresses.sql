-- The units of an access run as a subquery over the current views (the parcels, address points and buildings views
-- are filled in by sdi/analysis/units.py with fixed view names, never a caller's value), for city %(city)s.
-- An address point's precinct is that of the first parcel (by fid) holding it. Found set-wise through a grid of
-- 50 m cells, a hash join of each point's cell with the cells of each parcel's box, and the exact test only for
-- those pairs: a subquery per point (an index scan of the parcels each) took 2.7 s of 50,000 points, this 0.5 s.
SELECT u.fid, u.city, concat_ws(' ', u.street, u.house_number) AS label, pp.precinct, 1 AS addresses, u.geom
FROM {address_points} u
LEFT JOIN (
    SELECT DISTINCT ON (a.fid) a.fid, p.precinct
    FROM (SELECT p.fid, p.precinct, p.geom, cx, cy FROM {parcels} p,
                 generate_series(floor(ST_XMin(p.geom) / 50)::int, floor(ST_XMax(p.geom) / 50)::int) cx,
                 generate_series(floor(ST_YMin(p.geom) / 50)::int, floor(ST_YMax(p.geom) / 50)::int) cy
          WHERE p.city = %(city)s) p
    JOIN (SELECT a.fid, a.geom, floor(ST_X(a.geom) / 50)::int AS cx, floor(ST_Y(a.geom) / 50)::int AS cy
          FROM {address_points} a WHERE a.city = %(city)s) a USING (cx, cy)
    WHERE ST_Intersects(p.geom, a.geom)
    ORDER BY a.fid, p.fid
) pp ON pp.fid = u.fid
WHERE u.city = %(city)s
