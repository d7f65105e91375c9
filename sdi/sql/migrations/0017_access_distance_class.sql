-- The result layers of the art. 13f analysis (issue 21) styled "pass or fail by distance class": besides
-- `status` (met / not_met / unreachable), each unit gets `distance_class`, which splits both by how far the
-- unit is from its limits. A planner reads from it which parcels just miss (a new footpath or a school
-- annex may fix them) and which are far off, and which pass with room to spare.
--
-- The ratio is the worst distance against its limit over the standards measured as a distance: the school
-- (its limit is stored per unit: towns and the rest differ), the one 20 ha green area (the run's
-- green_big_m, default 3,000 m) and each optional kind (its limit is stored in `optional`). The 3 ha sum is
-- an area, not a distance: a unit failing only that is `not_met_near` when its distances are within 1.5x.
--   met_half      every standard met, every distance within half its limit
--   met           every standard met
--   not_met_near  a standard not met, every distance within 1.5x its limit
--   not_met_far   a distance beyond 1.5x its limit, or none measured
--   unreachable   as `status`: no street near the unit, or no facility on its part of the network
-- Computed once in analysis.parcel_access_classed (private like its table; the public views run with their
-- owner's rights) and appended at the end of each view (CREATE OR REPLACE VIEW keeps the existing columns).

CREATE OR REPLACE VIEW analysis.parcel_access_classed AS
    SELECT a.*,
           CASE WHEN a.all_ok AND d.ratio <= 0.5 THEN 'met_half' WHEN a.all_ok THEN 'met'
                WHEN a.reason IS NOT NULL THEN 'unreachable' WHEN d.ratio <= 1.5 THEN 'not_met_near'
                ELSE 'not_met_far' END AS distance_class
    FROM analysis.parcel_access a
    JOIN analysis.runs p ON p.run_id = a.run_id
    CROSS JOIN LATERAL (
        SELECT GREATEST(a.school_m / NULLIF(a.school_limit_m, 0),
                        a.green20_m / NULLIF(coalesce((p.params->>'green_big_m')::float8, 3000), 0),
                        (SELECT max((o.v->>'m')::float8 / NULLIF((o.v->>'limit_m')::float8, 0))
                         FROM jsonb_each(a.optional) AS o(k, v))) AS ratio
    ) d;

CREATE OR REPLACE VIEW data.access_standards AS
    SELECT a.parcel_fid AS fid,
           CASE WHEN a.all_ok THEN 'met' WHEN a.reason IS NOT NULL THEN 'unreachable' ELSE 'not_met' END AS status,
           a.run_id, a.city, a.parcel_fid, a.parcel_id, a.precinct, a.town, a.access_m, a.school_m, a.school_fid,
           a.school_limit_m, a.school_ok, a.school_straight_ok, a.school_by_point, a.green_sum_ha, a.green_ok,
           a.green_straight_ok, a.green20_m, a.green20_fid, a.green20_ok, a.green20_straight_ok, a.optional, a.all_ok,
           a.reason, a.addresses, a.geom::geometry(MultiPolygon, 2180) AS geom, a.distance_class
    FROM analysis.parcel_access_classed a
    JOIN analysis.current_runs r ON r.run_id = a.run_id AND r.unit = 'parcels';

CREATE OR REPLACE VIEW data.access_addresses AS
    SELECT a.parcel_fid AS fid,
           CASE WHEN a.all_ok THEN 'met' WHEN a.reason IS NOT NULL THEN 'unreachable' ELSE 'not_met' END AS status,
           a.run_id, a.city, a.parcel_id AS address, a.precinct, a.town, a.access_m, a.school_m, a.school_fid,
           a.school_ok, a.school_straight_ok, a.green_sum_ha, a.green_ok, a.green20_m, a.green20_fid, a.green20_ok,
           a.optional, a.all_ok, a.reason, a.geom::geometry(Point, 2180) AS geom, a.distance_class
    FROM analysis.parcel_access_classed a
    JOIN analysis.current_runs r ON r.run_id = a.run_id AND r.unit = 'addresses';

CREATE OR REPLACE VIEW data.access_buildings AS
    SELECT a.parcel_fid AS fid,
           CASE WHEN a.all_ok THEN 'met' WHEN a.reason IS NOT NULL THEN 'unreachable' ELSE 'not_met' END AS status,
           a.run_id, a.city, a.parcel_id AS building, a.precinct, a.town, a.access_m, a.school_m, a.school_fid,
           a.school_ok, a.school_straight_ok, a.green_sum_ha, a.green_ok, a.green20_m, a.green20_fid, a.green20_ok,
           a.optional, a.all_ok, a.reason, a.addresses, a.geom::geometry(MultiPolygon, 2180) AS geom, a.distance_class
    FROM analysis.parcel_access_classed a
    JOIN analysis.current_runs r ON r.run_id = a.run_id AND r.unit = 'buildings';
