-- The units of an access run as a subquery over the current views (the parcels, address points and buildings views
-- are filled in by sdi/analysis/units.py with fixed view names, never a caller's value).
SELECT u.fid, u.city, u.parcel_id AS label, u.precinct,
       (SELECT count(*) FROM {address_points} a WHERE ST_Intersects(a.geom, u.geom))::integer AS addresses,
       u.geom
FROM {parcels} u
