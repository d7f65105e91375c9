-- The units of an access run as a subquery over the current views (the parcels, address points and buildings views
-- are filled in by sdi/analysis/units.py with fixed view names, never a caller's value).
SELECT u.fid, u.city, concat_ws(' ', u.street, u.house_number) AS label,
       (SELECT p.precinct FROM {parcels} p WHERE p.city = u.city AND ST_Intersects(p.geom, u.geom)
        ORDER BY p.fid LIMIT 1) AS precinct,
       1 AS addresses, u.geom
FROM {address_points} u
