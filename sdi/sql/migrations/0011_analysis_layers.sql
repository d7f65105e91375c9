-- The analysis results (issue 21) as layers that the API, QGIS and GDAL open: each view has the `fid` the
-- API's provider pages by, a `status` that the styles colour (met / not_met / unreachable), and the
-- summaries per gmina and per precinct get a geometry of their own, so that the worst-served areas show on
-- a map. data.sdi_derived_layers lists the derived views that hold rows: sdi.core.catalogue publishes them
-- beside the loaded themes.
CREATE TABLE IF NOT EXISTS analysis.area_summary (
    fid                  bigserial PRIMARY KEY,
    run_id               bigint NOT NULL REFERENCES analysis.runs ON DELETE CASCADE,
    city                 char(7) NOT NULL,
    level                text NOT NULL CHECK (level IN ('gmina', 'precinct')),
    area                 text NOT NULL,        -- the gmina's TERYT or the precinct's code
    parcels              integer NOT NULL,
    school               double precision,     -- shares of the parcels meeting each standard, 0..1
    green_3ha            double precision,
    green_20ha           double precision,
    all_standards        double precision,
    unreachable          integer NOT NULL,
    school_network_only  integer NOT NULL,     -- passes along the streets, fails by straight line
    school_straight_only integer NOT NULL,     -- passes by straight line, fails along the streets
    status               text NOT NULL,        -- met: every parcel meets all; not_met; unreachable: most have none
    geom                 geometry(MultiPolygon, 2180) NOT NULL,
    UNIQUE (run_id, level, area)
);
CREATE INDEX IF NOT EXISTS area_summary_geom_idx ON analysis.area_summary USING gist (geom);

DROP VIEW IF EXISTS data.access_standards;
CREATE VIEW data.access_standards AS
    SELECT a.parcel_fid AS fid,
           CASE WHEN a.all_ok THEN 'met' WHEN a.reason IS NOT NULL THEN 'unreachable' ELSE 'not_met' END AS status,
           a.*
    FROM analysis.parcel_access a
    WHERE a.run_id = (SELECT max(r.run_id) FROM analysis.runs r
                      WHERE r.city = a.city AND r.status = 'successful');

DROP VIEW IF EXISTS data.access_network;
CREATE VIEW data.access_network AS
    SELECT e.run_id * 10000000 + e.id AS fid, e.run_id, e.id, e.component, e.origin, e.cost, r.city, e.geom
    FROM analysis.edges e JOIN analysis.runs r USING (run_id)
    WHERE e.run_id = (SELECT max(r2.run_id) FROM analysis.runs r2
                      WHERE r2.city = r.city AND r2.status = 'successful');

CREATE OR REPLACE VIEW data.access_summary AS
    SELECT s.* FROM analysis.area_summary s
    WHERE s.run_id = (SELECT max(r.run_id) FROM analysis.runs r
                      WHERE r.city = s.city AND r.status = 'successful');

CREATE OR REPLACE VIEW data.sdi_derived_layers AS
    SELECT 'access_standards'::text AS theme WHERE EXISTS (SELECT FROM data.access_standards)
    UNION ALL SELECT 'access_summary' WHERE EXISTS (SELECT FROM data.access_summary);
