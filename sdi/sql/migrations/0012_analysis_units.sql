-- Analysis (issue 21), second part: units of analysis besides the parcel (address points, residential
-- buildings), the address count of every unit, summaries per planning zone (land_use_plans), each facility's
-- catchment, and runs with planned routes (ust. 4) that show what a plan would change without replacing the
-- published results of the network as it is.

-- The views below select from the tables whose columns change: dropped first, made again at the end.
DROP VIEW IF EXISTS data.sdi_derived_layers;
DROP VIEW IF EXISTS data.access_standards;
DROP VIEW IF EXISTS data.access_summary;
DROP VIEW IF EXISTS data.access_network;

ALTER TABLE analysis.parcel_access
    ADD COLUMN IF NOT EXISTS unit text NOT NULL DEFAULT 'parcels'
        CHECK (unit IN ('parcels', 'addresses', 'buildings')),
    ADD COLUMN IF NOT EXISTS addresses integer NOT NULL DEFAULT 0,  -- address points in the unit (1 for one)
    ALTER COLUMN geom TYPE geometry(Geometry, 2180);              -- points for address units

ALTER TABLE analysis.area_summary
    ADD COLUMN IF NOT EXISTS unit text NOT NULL DEFAULT 'parcels',
    ADD COLUMN IF NOT EXISTS addresses integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS addresses_ok double precision,       -- share of the addresses in complying units
    DROP CONSTRAINT IF EXISTS area_summary_level_check,
    ADD CONSTRAINT area_summary_level_check CHECK (level IN ('gmina', 'precinct', 'plan_zone'));

-- Per facility: the units and address points whose nearest facility of the kind it is, within the limit.
CREATE TABLE IF NOT EXISTS analysis.facility_catchment (
    run_id       bigint NOT NULL REFERENCES analysis.runs ON DELETE CASCADE,
    kind         text NOT NULL,
    facility_fid bigint NOT NULL,
    name         text,
    units        integer NOT NULL,
    addresses    integer NOT NULL,
    PRIMARY KEY (run_id, kind, facility_fid)
);

-- The newest successful run of each city and unit, that is not a what-if run with planned routes: what the
-- published layers show.
CREATE OR REPLACE VIEW analysis.current_runs AS
    SELECT DISTINCT ON (city, coalesce(params->>'units', 'parcels'))
           run_id, city, coalesce(params->>'units', 'parcels') AS unit
    FROM analysis.runs
    WHERE status = 'successful' AND coalesce(params->>'planned', 'false') <> 'true'
    ORDER BY city, coalesce(params->>'units', 'parcels'), run_id DESC;

CREATE VIEW data.access_standards AS
    SELECT a.parcel_fid AS fid,
           CASE WHEN a.all_ok THEN 'met' WHEN a.reason IS NOT NULL THEN 'unreachable' ELSE 'not_met' END AS status,
           a.run_id, a.city, a.parcel_fid, a.parcel_id, a.precinct, a.town, a.access_m, a.school_m, a.school_fid,
           a.school_limit_m, a.school_ok, a.school_straight_ok, a.school_by_point, a.green_sum_ha, a.green_ok,
           a.green_straight_ok, a.green20_m, a.green20_fid, a.green20_ok, a.green20_straight_ok, a.optional, a.all_ok,
           a.reason, a.addresses, a.geom::geometry(MultiPolygon, 2180) AS geom
    FROM analysis.parcel_access a JOIN analysis.current_runs r ON r.run_id = a.run_id AND r.unit = 'parcels';

CREATE VIEW data.access_addresses AS
    SELECT a.parcel_fid AS fid,
           CASE WHEN a.all_ok THEN 'met' WHEN a.reason IS NOT NULL THEN 'unreachable' ELSE 'not_met' END AS status,
           a.run_id, a.city, a.parcel_id AS address, a.precinct, a.town, a.access_m, a.school_m, a.school_fid,
           a.school_ok, a.school_straight_ok, a.green_sum_ha, a.green_ok, a.green20_m, a.green20_fid, a.green20_ok,
           a.optional, a.all_ok, a.reason, a.geom::geometry(Point, 2180) AS geom
    FROM analysis.parcel_access a JOIN analysis.current_runs r ON r.run_id = a.run_id AND r.unit = 'addresses';

CREATE VIEW data.access_buildings AS
    SELECT a.parcel_fid AS fid,
           CASE WHEN a.all_ok THEN 'met' WHEN a.reason IS NOT NULL THEN 'unreachable' ELSE 'not_met' END AS status,
           a.run_id, a.city, a.parcel_id AS building, a.precinct, a.town, a.access_m, a.school_m, a.school_fid,
           a.school_ok, a.school_straight_ok, a.green_sum_ha, a.green_ok, a.green20_m, a.green20_fid, a.green20_ok,
           a.optional, a.all_ok, a.reason, a.addresses, a.geom::geometry(MultiPolygon, 2180) AS geom
    FROM analysis.parcel_access a JOIN analysis.current_runs r ON r.run_id = a.run_id AND r.unit = 'buildings';

CREATE VIEW data.access_summary AS
    SELECT s.* FROM analysis.area_summary s JOIN analysis.current_runs r USING (run_id);

CREATE VIEW data.access_network AS
    SELECT e.run_id * 10000000 + e.id AS fid, e.run_id, e.id, e.component, e.origin, e.cost, r.city, e.geom
    FROM analysis.edges e
    JOIN (SELECT DISTINCT ON (city) run_id, city FROM analysis.current_runs ORDER BY city, run_id DESC) r
        USING (run_id);

CREATE VIEW data.sdi_derived_layers AS
    SELECT 'access_standards'::text AS theme WHERE EXISTS (SELECT FROM data.access_standards)
    UNION ALL SELECT 'access_addresses' WHERE EXISTS (SELECT FROM data.access_addresses)
    UNION ALL SELECT 'access_buildings' WHERE EXISTS (SELECT FROM data.access_buildings)
    UNION ALL SELECT 'access_summary' WHERE EXISTS (SELECT FROM data.access_summary);
