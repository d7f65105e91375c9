-- Run by the cluster's superuser (sdi_admin) in each sdi database: PostGIS, and the only ways the
-- unprivileged owner may make logins. The owner gets USAGE on schema sdi_admin and EXECUTE on these
-- functions, never CREATE: it cannot replace them. Each checks the role name strictly, takes the
-- password as a parameter, grants nothing but sdi_loader, and refuses to touch a role that holds more
-- than a city login or the reader should. search_path is pg_catalog, pg_temp, and names are qualified.
CREATE EXTENSION IF NOT EXISTS postgis;
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'sdi_loader') THEN
        CREATE ROLE sdi_loader NOLOGIN;
    END IF;
    -- A schema of that name made by someone else (the owner, say) would let them replace the functions.
    IF EXISTS (SELECT FROM pg_catalog.pg_namespace WHERE nspname = 'sdi_admin'
               AND nspowner <> (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user)) THEN
        RAISE EXCEPTION 'schema sdi_admin belongs to another role; drop it and start again';
    END IF;
END $$;
CREATE SCHEMA IF NOT EXISTS sdi_admin;
REVOKE ALL ON SCHEMA sdi_admin FROM PUBLIC;

-- A role the functions may (re)make: absent, or a plain login that belongs to nothing but sdi_loader.
CREATE OR REPLACE FUNCTION sdi_admin.check_plain(p_role text) RETURNS boolean LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    r pg_catalog.pg_roles;
BEGIN
    SELECT * INTO r FROM pg_catalog.pg_roles WHERE rolname = p_role;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    IF r.rolsuper OR r.rolcreaterole OR r.rolcreatedb OR r.rolreplication OR r.rolbypassrls
       OR EXISTS (SELECT FROM pg_catalog.pg_auth_members m JOIN pg_catalog.pg_roles g ON g.oid = m.roleid
                  WHERE m.member = r.oid AND g.rolname <> 'sdi_loader')
       OR EXISTS (SELECT FROM pg_catalog.pg_auth_members m WHERE m.roleid = r.oid) THEN
        RAISE EXCEPTION 'role % holds more than an sdi login may; an administrator must look at it', p_role
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN true;
END
$$;

-- Where PostGIS lives, so that a login finds it on its search_path.
CREATE OR REPLACE FUNCTION sdi_admin.set_path(p_role text) RETURNS void LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    EXECUTE pg_catalog.format('ALTER ROLE %I SET search_path = data, %I, public', p_role,
        (SELECT e.extnamespace::regnamespace::text FROM pg_catalog.pg_extension e WHERE e.extname = 'postgis'));
END
$$;

CREATE OR REPLACE FUNCTION sdi_admin.city_login(p_city text, p_password text) RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    role text;
BEGIN
    -- ARE: without newline-sensitive mode, $ matches only at the very end (no trailing newline).
    IF p_city IS NULL OR p_city !~ '^[0-9]{7}$' THEN
        RAISE EXCEPTION 'invalid city code %', pg_catalog.quote_literal(p_city) USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_password IS NULL OR pg_catalog.length(p_password) < 12 THEN
        RAISE EXCEPTION 'the password is shorter than 12 characters' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    role := 'sdi_city_' || p_city;
    EXECUTE pg_catalog.format(CASE WHEN sdi_admin.check_plain(role) THEN 'ALTER' ELSE 'CREATE' END
        || ' ROLE %I LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD %L',
        role, p_password);
    EXECUTE pg_catalog.format('GRANT sdi_loader TO %I', role);
    PERFORM sdi_admin.set_path(role);
    RETURN role;
END
$$;

CREATE OR REPLACE FUNCTION sdi_admin.drop_city_login(p_city text) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    role text;
BEGIN
    IF p_city IS NULL OR p_city !~ '^[0-9]{7}$' THEN
        RAISE EXCEPTION 'invalid city code %', pg_catalog.quote_literal(p_city) USING ERRCODE = 'invalid_parameter_value';
    END IF;
    role := 'sdi_city_' || p_city;
    IF NOT sdi_admin.check_plain(role) THEN
        RETURN false;
    END IF;
    EXECUTE pg_catalog.format('DROP OWNED BY %I', role);  -- its grants in this database
    EXECUTE pg_catalog.format('DROP ROLE %I', role);
    RETURN true;
END
$$;

-- The API's reader of this database, <database>_reader: read-only settings, no group at all.
CREATE OR REPLACE FUNCTION sdi_admin.reader_login(p_password text) RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    role text := pg_catalog.left(pg_catalog.current_database()::text, 50) || '_reader';
BEGIN
    IF role !~ '^[a-z][a-z0-9_]*$' OR role ~ '^pg_' THEN
        RAISE EXCEPTION 'no reader login for a database named %', pg_catalog.current_database()
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_password IS NULL OR pg_catalog.length(p_password) < 12 THEN
        RAISE EXCEPTION 'the password is shorter than 12 characters' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    EXECUTE pg_catalog.format(CASE WHEN sdi_admin.check_plain(role) THEN 'ALTER' ELSE 'CREATE' END
        || ' ROLE %I LOGIN NOINHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD %L',
        role, p_password);
    EXECUTE pg_catalog.format('ALTER ROLE %I SET statement_timeout = ''30s''', role);
    -- JIT costs 15-20 ms a query and never pays back on the API's short queries; parallel workers only
    -- compete with the API's own on few cores.
    EXECUTE pg_catalog.format('ALTER ROLE %I SET jit = off', role);
    EXECUTE pg_catalog.format('ALTER ROLE %I SET max_parallel_workers_per_gather = 0', role);
    PERFORM sdi_admin.set_path(role);
    RETURN role;
END
$$;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA sdi_admin FROM PUBLIC;
