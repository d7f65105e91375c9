-- Analysis (issue 21): the results of a run are written in bulk (50,000 rows of analysis.parcel_access and 20,000
-- of analysis.edges at the goal's size), and two per-row costs of those writes go.
--
-- 1. The reference to analysis.runs is checked once per statement, not once per row. A foreign key fires one
--    trigger per inserted row (0.5 s of the goal's 50,000-unit run, each a lookup of the same run row). The same
--    guarantees, set-wise: an insert or update whose rows name a run that does not exist fails with a foreign key
--    violation, and the runs it names are locked FOR KEY SHARE as the foreign key would, so that they cannot be
--    deleted before it commits; deleting runs deletes their rows (ON DELETE CASCADE as before).
-- 2. parcel_access_geom_idx goes: nothing can use it. The result layers (data.access_standards, _addresses,
--    _buildings) cast geom to a typed geometry, so a bbox filter on a layer tests the cast, which this index on
--    the bare column cannot answer (EXPLAIN: the run's rows by the primary key, the bbox as a filter); maintaining
--    it cost 0.3-0.9 s of each 50,000-unit run. analysis.edges keeps its index: data.access_network exposes geom
--    uncast.

CREATE OR REPLACE FUNCTION analysis.check_run_ids() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    missing bigint;
BEGIN
    PERFORM 1 FROM analysis.runs r WHERE r.run_id IN (SELECT DISTINCT n.run_id FROM new_rows n) FOR KEY SHARE OF r;
    SELECT n.run_id INTO missing FROM (SELECT DISTINCT run_id FROM new_rows) n
    WHERE NOT EXISTS (SELECT FROM analysis.runs r WHERE r.run_id = n.run_id) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'insert or update on table "%" violates its reference to analysis.runs', TG_TABLE_NAME
            USING ERRCODE = 'foreign_key_violation',
                  DETAIL = format('Key (run_id)=(%s) is not present in table "runs".', missing);
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION analysis.delete_run_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM analysis.parcel_access a USING old_rows o WHERE a.run_id = o.run_id;
    DELETE FROM analysis.edges e USING old_rows o WHERE e.run_id = o.run_id;
    RETURN NULL;
END $$;

ALTER TABLE analysis.parcel_access DROP CONSTRAINT IF EXISTS parcel_access_run_id_fkey;
ALTER TABLE analysis.edges DROP CONSTRAINT IF EXISTS edges_run_id_fkey;
DROP INDEX IF EXISTS analysis.parcel_access_geom_idx;

-- Transition tables allow one event per trigger: an insert trigger and an update trigger per table.
CREATE OR REPLACE TRIGGER parcel_access_run_insert AFTER INSERT ON analysis.parcel_access
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION analysis.check_run_ids();
CREATE OR REPLACE TRIGGER parcel_access_run_update AFTER UPDATE ON analysis.parcel_access
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION analysis.check_run_ids();
CREATE OR REPLACE TRIGGER edges_run_insert AFTER INSERT ON analysis.edges
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION analysis.check_run_ids();
CREATE OR REPLACE TRIGGER edges_run_update AFTER UPDATE ON analysis.edges
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION analysis.check_run_ids();
CREATE OR REPLACE TRIGGER runs_delete_rows AFTER DELETE ON analysis.runs
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION analysis.delete_run_rows();

-- TRUNCATE fires no delete trigger: truncating the runs truncates their rows here too, as CASCADE would have.
CREATE OR REPLACE FUNCTION analysis.truncate_run_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE analysis.parcel_access, analysis.edges;
    RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER runs_truncate_rows AFTER TRUNCATE ON analysis.runs
    FOR EACH STATEMENT EXECUTE FUNCTION analysis.truncate_run_rows();
