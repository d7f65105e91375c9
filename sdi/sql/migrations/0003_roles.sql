-- Roles and row-level security: many cities share one database, and each may write only its own rows.
--
-- The owner (the role that runs migrations, `sdi init` and `sdi city add`) owns every table and so is not
-- subject to the policies below. Each city loads as its own login role, sdi_city_<TERYT>, a member of
-- the group sdi_loader: it may insert and switch versions only where city is its own TERYT, even with
-- hand-written SQL, and it cannot create, alter or drop anything. The API reads through a reader role
-- (sdi.roles), which sees the data.<theme> views only.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sdi_loader') THEN
        CREATE ROLE sdi_loader NOLOGIN;  -- roles belong to the cluster: one group for every sdi database
    END IF;
END $$;

-- The city a login may write: the TERYT in its role name, or NULL for any other role.
CREATE FUNCTION sdi.current_city() RETURNS text LANGUAGE sql STABLE AS
$$ SELECT substring(current_user FROM '^sdi_city_([0-9]{7})$') $$;

ALTER TABLE sdi.loads ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_city ON sdi.loads USING (city = sdi.current_city()) WITH CHECK (city = sdi.current_city());
ALTER TABLE sdi.layers ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_city ON sdi.layers USING (city = sdi.current_city()) WITH CHECK (city = sdi.current_city());
ALTER TABLE sdi.rejects ENABLE ROW LEVEL SECURITY;
-- A reject belongs to the city of its load; the subquery itself sees only the city's own loads.
CREATE POLICY own_city ON sdi.rejects
    USING (EXISTS (SELECT 1 FROM sdi.loads l WHERE l.load_id = rejects.load_id))
    WITH CHECK (EXISTS (SELECT 1 FROM sdi.loads l WHERE l.load_id = rejects.load_id));

-- Access tokens for restricted themes, stored as SHA-256 hashes only.
CREATE TABLE sdi.tokens (
    name        text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9_.@-]{1,64}$'),
    city        char(7) CHECK (city ~ '^[0-9]{7}$'),
    token_hash  text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

-- What the API may ask of the catalogue, as the reader: nothing but these two answers.
CREATE FUNCTION data.sdi_token_valid(hash text) RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS
$$ SELECT EXISTS (SELECT 1 FROM sdi.tokens WHERE token_hash = hash AND revoked_at IS NULL) $$;
CREATE VIEW data.sdi_status AS
    SELECT (SELECT max(version) FROM sdi.schema_migrations) AS catalogue_version,
           (SELECT count(DISTINCT theme) FROM sdi.layers) AS themes,
           (SELECT count(*) FROM sdi.layers) AS layers,
           (SELECT max(loaded_at) FROM sdi.loads) AS last_load;
-- The current load of every (city, theme), as the API shows it in each collection's description.
CREATE VIEW data.sdi_layers AS
    SELECT l.city, l.theme, d.load_id, d.feature_count, d.loaded_at
    FROM sdi.layers l JOIN sdi.loads d USING (load_id);
REVOKE ALL ON FUNCTION data.sdi_token_valid(text) FROM PUBLIC;

GRANT USAGE ON SCHEMA sdi, history, data TO sdi_loader;
GRANT SELECT ON sdi.schema_migrations TO sdi_loader;
GRANT SELECT, INSERT, UPDATE ON sdi.loads TO sdi_loader;
GRANT SELECT, INSERT, UPDATE ON sdi.layers TO sdi_loader;
GRANT SELECT, INSERT ON sdi.rejects TO sdi_loader;
GRANT USAGE ON SEQUENCE sdi.loads_load_id_seq TO sdi_loader;
GRANT SELECT ON ALL TABLES IN SCHEMA data TO sdi_loader;

-- Theme tables made before this migration get the same policy as new ones (sdi.load.ensure_theme_table).
DO $$
DECLARE t record;
BEGIN
    FOR t IN SELECT table_name FROM information_schema.tables
             WHERE table_schema = 'history' AND table_type = 'BASE TABLE' LOOP
        EXECUTE format('ALTER TABLE history.%I ENABLE ROW LEVEL SECURITY', t.table_name);
        EXECUTE format('CREATE POLICY own_city ON history.%I USING (city = sdi.current_city())'
                       ' WITH CHECK (city = sdi.current_city())', t.table_name);
        EXECUTE format('GRANT SELECT, INSERT ON history.%I TO sdi_loader', t.table_name);
        EXECUTE format('GRANT USAGE ON SEQUENCE %s TO sdi_loader',
                       pg_get_serial_sequence(format('history.%I', t.table_name), 'fid'));
    END LOOP;
END $$;
