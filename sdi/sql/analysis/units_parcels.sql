-- The units of an access run, parcels, as temporary table _units (fid, label, precinct, addresses, geom) of city
-- %(city)s (sdi/analysis/units.py fills in the current views' fixed names, never a caller's value).
-- A parcel's address points (of any city) are counted through a grid of 50 m cells, as units_addresses.sql finds a
-- point's parcel: a hash join of each point's cell with the cells of each parcel's box, the exact test only there.
CREATE TEMP TABLE _pcell ON COMMIT DROP AS
    SELECT p.fid, p.geom, cx, cy
    FROM {parcels} p,
        generate_series(floor(ST_XMin(p.geom) / 50)::int, floor(ST_XMax(p.geom) / 50)::int) cx,
        generate_series(floor(ST_YMin(p.geom) / 50)::int, floor(ST_YMax(p.geom) / 50)::int) cy
    WHERE p.city = %(city)s;
CREATE TEMP TABLE _acell ON COMMIT DROP AS
    SELECT a.geom, floor(ST_XMin(a.geom) / 50)::int AS cx, floor(ST_YMin(a.geom) / 50)::int AS cy
    FROM {address_points} a
    WHERE a.geom && (SELECT ST_SetSRID(ST_Extent(geom)::geometry, 2180) FROM _pcell);
ANALYZE _pcell (fid, cx, cy); ANALYZE _acell (cx, cy);
CREATE TEMP TABLE _units ON COMMIT DROP AS
    SELECT u.fid, u.parcel_id AS label, u.precinct, coalesce(n.addresses, 0) AS addresses, u.geom
    FROM {parcels} u
    LEFT JOIN (SELECT p.fid, count(*)::integer AS addresses FROM _pcell p JOIN _acell a USING (cx, cy)
               WHERE ST_Intersects(a.geom, p.geom) GROUP BY p.fid) n ON n.fid = u.fid
    WHERE u.city = %(city)s;
