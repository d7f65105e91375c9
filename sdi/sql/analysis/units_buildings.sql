-- The units of an access run, residential buildings, as temporary table _units (fid, label, precinct, addresses,
-- geom) of city %(city)s (sdi/analysis/units.py fills in the current views' fixed names, never a caller's value).
CREATE TEMP TABLE _units ON COMMIT DROP AS
    SELECT u.fid, coalesce(u.egib_id, u.name, 'building ' || u.fid) AS label,
           (SELECT p.precinct FROM {parcels} p WHERE p.city = u.city
              AND ST_Intersects(p.geom, ST_PointOnSurface(u.geom)) ORDER BY p.fid LIMIT 1) AS precinct,
           (SELECT count(*) FROM {address_points} a WHERE ST_DWithin(a.geom, u.geom, 5))::integer AS addresses,
           u.geom
    FROM {buildings} u
    WHERE u.function = 'residential' AND u.city = %(city)s;
