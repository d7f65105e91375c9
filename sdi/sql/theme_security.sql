-- Row-level security and grants of one theme's history table {t} and view {v}; idempotent.
ALTER TABLE {t} ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS own_city ON {t};
CREATE POLICY own_city ON {t} USING (city = sdi.current_city()) WITH CHECK (city = sdi.current_city());
GRANT SELECT, INSERT ON {t} TO sdi_loader;
GRANT SELECT ON {v} TO sdi_loader;
DO $$ BEGIN
    EXECUTE format('GRANT USAGE ON SEQUENCE %s TO sdi_loader', pg_get_serial_sequence('{t}', 'fid'));
END $$;
