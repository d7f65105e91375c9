-- What the API's reader {role} may do in this database: read the current data views, ask whether a token
-- is valid, and read the status of the catalogue. No table of the sdi or history schemas (roles.py adds USAGE
-- on the schema PostGIS lives in, which may be sdi: that lets it call PostGIS, not read tables).
REVOKE ALL ON SCHEMA history FROM {role};
GRANT USAGE ON SCHEMA data TO {role};
GRANT SELECT ON ALL TABLES IN SCHEMA data TO {role};
GRANT EXECUTE ON FUNCTION data.sdi_token_valid(text) TO {role};
-- Views of themes loaded later, created by this same owner, are readable too.
ALTER DEFAULT PRIVILEGES IN SCHEMA data GRANT SELECT ON TABLES TO {role};
GRANT EXECUTE ON FUNCTION data.sdi_token_scope(text) TO {role};
