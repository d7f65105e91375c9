-- The units of an access run, address points, as temporary table _units (fid, label, precinct, addresses, geom) of
-- city %(city)s (sdi/analysis/units.py fills in the current views' fixed names, never a caller's value).
-- An address point's precinct is that of the first parcel (by fid) of its city holding it, found through a grid of
-- 50 m cells: a hash join of each point's cell with the cells its parcels' boxes cover, the exact test only for
-- those pairs. A subquery per point (an index scan of the parcels each) took 2.7 s of 50,000 points, this 0.5 s;
-- the cells are tables of their own, analysed, so that the planner sees their real sizes (over the views it
-- guessed 118 parcels and went back to an index scan per parcel).
CREATE TEMP TABLE _ucell ON COMMIT DROP AS
    SELECT u.fid, concat_ws(' ', u.street, u.house_number) AS label, u.geom,
           floor(ST_X(u.geom) / 50)::int AS cx, floor(ST_Y(u.geom) / 50)::int AS cy
    FROM {address_points} u
    WHERE u.city = %(city)s;
CREATE TEMP TABLE _pcell ON COMMIT DROP AS
    SELECT p.fid, p.precinct, p.geom, cx, cy
    FROM {parcels} p,
        generate_series(floor(ST_XMin(p.geom) / 50)::int, floor(ST_XMax(p.geom) / 50)::int) cx,
        generate_series(floor(ST_YMin(p.geom) / 50)::int, floor(ST_YMax(p.geom) / 50)::int) cy
    WHERE p.city = %(city)s;
ANALYZE _ucell (fid, cx, cy); ANALYZE _pcell (cx, cy);
CREATE TEMP TABLE _units ON COMMIT DROP AS
    SELECT u.fid, u.label, pp.precinct, 1 AS addresses, u.geom
    FROM _ucell u
    LEFT JOIN (SELECT DISTINCT ON (u.fid) u.fid, p.precinct FROM _ucell u JOIN _pcell p USING (cx, cy)
               WHERE ST_Intersects(p.geom, u.geom) ORDER BY u.fid, p.fid) pp ON pp.fid = u.fid;
