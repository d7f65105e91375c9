-- The catalogue: what is loaded, by which load, and what was rejected.
-- Published data lives in schema "data", one table per theme; the catalogue lives in schema "sdi".
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE SCHEMA IF NOT EXISTS sdi;
CREATE SCHEMA IF NOT EXISTS data;

-- One row per successful load. Data, this row and its rejects commit in one transaction.
CREATE TABLE sdi.loads (
    load_id       bigserial PRIMARY KEY,
    city          char(7)     NOT NULL CHECK (city ~ '^[0-9]{7}$'),
    theme         text        NOT NULL CHECK (theme ~ '^[a-z][a-z0-9_]{0,62}$'),
    source        text        NOT NULL,
    source_layer  text,
    loaded_at     timestamptz NOT NULL DEFAULT now(),
    feature_count integer     NOT NULL,
    reject_count  integer     NOT NULL,
    detected      jsonb       NOT NULL DEFAULT '{}'  -- driver, encoding, crs and where each came from
);

-- The current load of each (city, theme): what `sdi layers` lists and `sdi serve` publishes.
CREATE TABLE sdi.layers (
    city          char(7) NOT NULL,
    theme         text    NOT NULL,
    load_id       bigint  NOT NULL REFERENCES sdi.loads,
    PRIMARY KEY (city, theme)
);

-- Features that could not be stored, each with its reason: nothing is dropped silently.
CREATE TABLE sdi.rejects (
    load_id       bigint  NOT NULL REFERENCES sdi.loads ON DELETE CASCADE,
    source_index  integer NOT NULL,
    reason        text    NOT NULL,
    properties    jsonb,
    geom_wkt      text
);
CREATE INDEX rejects_load_idx ON sdi.rejects (load_id);
