-- Every load is a version. Rows of all versions live in history.<theme>; data.<theme> is a view of the
-- current version of each city, as sdi.layers says. A swap or a rollback is one UPDATE of sdi.layers.
CREATE SCHEMA IF NOT EXISTS history;

ALTER TABLE sdi.loads
    ADD COLUMN source_size   bigint,
    ADD COLUMN source_sha256 text,
    ADD COLUMN operator      text,
    ADD COLUMN sdi_version   text,
    ADD COLUMN started_at    timestamptz;

-- Rejects keep the source's id and original geometry (in its own SRID), so a city can export and fix them.
ALTER TABLE sdi.rejects
    ADD COLUMN source_id text,
    ADD COLUMN geom      geometry,
    DROP COLUMN geom_wkt;

-- Theme tables made by version 1 held only the current rows: move them into history, behind a view.
DO $$
DECLARE t record;
BEGIN
    FOR t IN SELECT table_name FROM information_schema.tables
             WHERE table_schema = 'data' AND table_type = 'BASE TABLE' LOOP
        EXECUTE format('ALTER TABLE data.%I SET SCHEMA history', t.table_name);
        EXECUTE format('CREATE VIEW data.%I AS SELECT v.* FROM history.%I v JOIN sdi.layers l USING (load_id)',
                       t.table_name, t.table_name);
    END LOOP;
END $$;
