-- The units of an access run as a subquery over the current views (the parcels, address points and buildings views
-- are filled in by sdi/analysis/units.py with fixed view names, never a caller's value).
SELECT u.fid, u.city, coalesce(u.egib_id, u.name, 'building ' || u.fid) AS label,
       (SELECT p.precinct FROM {parcels} p WHERE p.city = u.city
          AND ST_Intersects(p.geom, ST_PointOnSurface(u.geom)) ORDER BY p.fid LIMIT 1) AS precinct,
       (SELECT count(*) FROM {address_points} a WHERE ST_DWithin(a.geom, u.geom, 5))::integer AS addresses,
       u.geom
FROM {buildings} u
WHERE u.function = 'residential'
