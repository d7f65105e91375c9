-- Row-level security and grants of one theme's history table {t} and view {v}; idempotent.
-- A city's login inserts only rows of its own city, for its own begun load of this theme {theme}: never
-- into a finished (published) version, nor into another city's or another theme's load.
ALTER TABLE {t} ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS own_city ON {t};
CREATE POLICY own_city ON {t} USING (city = (SELECT sdi.current_city()))
    WITH CHECK (city = (SELECT sdi.current_city()) AND EXISTS (
        SELECT 1 FROM sdi.loads l
        WHERE l.load_id = {name}.load_id AND l.city = {name}.city AND l.theme = {theme} AND l.state = 'begun'));
GRANT SELECT, INSERT ON {t} TO sdi_loader;
GRANT SELECT ON {v} TO sdi_loader;
DO $$ BEGIN
    EXECUTE format('GRANT USAGE ON SEQUENCE %s TO sdi_loader', pg_get_serial_sequence('{t}', 'fid'));
END $$;
-- Partitioned by load (migration 0006), with no default partition: a row written by hand for a load that has
-- no partition of this theme would fail as "no partition found". It is refused as a matter of rights instead,
-- like every other row a city may not write (COPY, which the loader uses, never meets this rule).
CREATE OR REPLACE RULE load_without_partition AS ON INSERT TO {t}
    WHERE NOT sdi.has_partition({theme}, NEW.load_id) DO INSTEAD SELECT sdi.refuse_rows({theme}, NEW.load_id);
