-- Accessibility standards of art. 13f of the planning act (issue 21): runs, their walking network and results.
-- pgRouting is not a trusted extension: only a superuser may create it. Run as the unprivileged owner this
-- block does nothing, and sdi.analysis says which one line the administrator must run; as the superuser (an
-- external database whose owner is one) it creates the extension here. Guarded so that a machine without the
-- Debian package still migrates.
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_catalog.pg_available_extensions WHERE name = 'pgrouting')
       AND (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
        CREATE EXTENSION IF NOT EXISTS pgrouting SCHEMA public;
    END IF;
END $$;

CREATE SCHEMA IF NOT EXISTS analysis;

-- One run of the analysis for one city: queued by the API or the CLI, run by the job runner.
CREATE TABLE IF NOT EXISTS analysis.runs (
    run_id      bigserial PRIMARY KEY,
    city        char(7) NOT NULL,
    status      text NOT NULL DEFAULT 'accepted'
                CHECK (status IN ('accepted', 'running', 'successful', 'failed', 'dismissed')),
    params      jsonb NOT NULL DEFAULT '{}',
    network     jsonb,              -- edges, vertices, components, connectors added by snapping
    summary     jsonb,              -- per gmina and per precinct, written when the run succeeds
    message     text,               -- the one-line reason of a failure
    created_at  timestamptz NOT NULL DEFAULT now(),
    started_at  timestamptz,
    finished_at timestamptz
);
CREATE INDEX IF NOT EXISTS runs_status_idx ON analysis.runs (status, run_id);

-- The noded walking network of a run (kept for inspection in QGIS and for the components report).
CREATE TABLE IF NOT EXISTS analysis.edges (
    run_id    bigint NOT NULL REFERENCES analysis.runs ON DELETE CASCADE,
    id        bigint NOT NULL,
    source    bigint NOT NULL,
    target    bigint NOT NULL,
    cost      double precision NOT NULL,
    component bigint,
    origin    text NOT NULL,        -- roads, cycle_paths, connector (a gap closed by snapping)
    geom      geometry(LineString, 2180) NOT NULL,
    PRIMARY KEY (run_id, id)
);
CREATE INDEX IF NOT EXISTS edges_geom_idx ON analysis.edges USING gist (geom);

-- One row per parcel and run: which standards it meets, with the network distances and the facilities.
CREATE TABLE IF NOT EXISTS analysis.parcel_access (
    run_id          bigint NOT NULL REFERENCES analysis.runs ON DELETE CASCADE,
    city            char(7) NOT NULL,
    parcel_fid      bigint NOT NULL,
    parcel_id       text,
    precinct        text,
    town            boolean NOT NULL,
    access_m        double precision,   -- from the parcel's boundary to the network (straight)
    school_m        double precision,
    school_fid      bigint,
    school_limit_m  double precision NOT NULL,
    school_ok       boolean NOT NULL,
    school_straight_ok boolean NOT NULL,
    school_by_point boolean,            -- true: no building held the school's point, its point was used
    green_sum_ha    double precision NOT NULL DEFAULT 0,
    green_ok        boolean NOT NULL,
    green_straight_ok boolean NOT NULL,
    green20_m       double precision,
    green20_fid     bigint,
    green20_ok      boolean NOT NULL,
    green20_straight_ok boolean NOT NULL,
    optional        jsonb NOT NULL DEFAULT '{}',  -- {kind: {m, fid, limit_m, ok, straight_ok}}
    all_ok          boolean NOT NULL,
    reason          text,               -- why a standard fails when it is not the distance: unreachable, no facility
    geom            geometry(MultiPolygon, 2180) NOT NULL,
    PRIMARY KEY (run_id, parcel_fid)
);
CREATE INDEX IF NOT EXISTS parcel_access_geom_idx ON analysis.parcel_access USING gist (geom);

-- What QGIS and the API's reader open: the newest successful run of each city (schema data is readable
-- by the reader; the view runs with its owner's rights, so the analysis schema itself stays private).
CREATE OR REPLACE VIEW data.access_standards AS
    SELECT a.* FROM analysis.parcel_access a
    WHERE a.run_id = (SELECT max(r.run_id) FROM analysis.runs r
                      WHERE r.city = a.city AND r.status = 'successful');

CREATE OR REPLACE VIEW data.access_network AS
    SELECT e.run_id, e.id, e.component, e.origin, e.cost, r.city, e.geom
    FROM analysis.edges e JOIN analysis.runs r USING (run_id)
    WHERE e.run_id = (SELECT max(r2.run_id) FROM analysis.runs r2
                      WHERE r2.city = r.city AND r2.status = 'successful');
