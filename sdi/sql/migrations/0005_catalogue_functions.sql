-- Writes to the catalogue only through the owner's functions (issue 16).
--
-- A city's login used to INSERT and UPDATE sdi.loads, sdi.layers, sdi.rasters and sdi.rejects itself,
-- under row-level security. RLS checks each row alone: it let a city publish another city's load under
-- its own name, and register any file of the server as its raster. Now those tables are written only by
-- the SECURITY DEFINER functions below, which check the whole story inside the database: whose city,
-- which load, begun or finished, which file. RLS stays as a second wall.
--
-- Every function runs with search_path = pg_catalog, pg_temp and names every object with its schema, so
-- that nobody's objects can stand in for ours (PostgreSQL manual, CREATE FUNCTION, "Writing SECURITY
-- DEFINER Functions Safely").

-- The caller's city, by the login it connected with: session_user, because inside a SECURITY DEFINER
-- function current_user is the owner, and because a city that runs SET ROLE sdi_loader must stay its city.
-- No SET clause, so that PostgreSQL can inline it in the views and policies; every name in it is qualified.
CREATE OR REPLACE FUNCTION sdi.current_city() RETURNS text LANGUAGE sql STABLE AS
$$ SELECT pg_catalog.substring(session_user::text, '^sdi_city_([0-9]{7})$') $$;

-- A load is begun, then finished with its counts; only a finished load can become current, and a
-- finished load is never re-opened. Loads made before this migration were all complete.
ALTER TABLE sdi.loads ADD COLUMN state text NOT NULL DEFAULT 'finished' CHECK (state IN ('begun', 'finished'));
ALTER TABLE sdi.loads ALTER COLUMN state SET DEFAULT 'begun';
ALTER TABLE sdi.loads ADD CONSTRAINT loads_id_city_theme UNIQUE (load_id, city, theme);

-- A current version is a load of that very city and theme, and a load is current for one layer at most.
-- Rows planted before this migration (a city's layer pointing at another city's load) are removed.
DELETE FROM sdi.layers y USING sdi.loads d
 WHERE d.load_id = y.load_id AND (d.city <> y.city OR d.theme <> y.theme);
DELETE FROM sdi.layers y WHERE EXISTS (SELECT 1 FROM sdi.loads d WHERE d.load_id = y.load_id AND d.state <> 'finished');
ALTER TABLE sdi.layers ADD CONSTRAINT layers_load_of_its_layer
    FOREIGN KEY (load_id, city, theme) REFERENCES sdi.loads (load_id, city, theme);
ALTER TABLE sdi.layers ADD CONSTRAINT layers_load_once UNIQUE (load_id);

-- A raster's file is a name the server itself writes, relative to SDI_RASTER_DIR:
-- <theme>/<city>/<YYYYmmddTHHMMSS>-<8 hex>.tif. Absolute rows that have that shape at their end are made
-- relative; any other row is left as it is, for the API to refuse (NOT VALID: the check binds new rows).
UPDATE sdi.rasters r SET path = pg_catalog.substring(r.path, '([^/]+/[0-9]{7}/[0-9]{8}T[0-9]{6}-[0-9a-f]{8}\.tif)$')
  FROM sdi.loads d
 WHERE d.load_id = r.load_id AND r.path LIKE '/%' AND r.path NOT LIKE '%/../%'
   AND r.path ~ ('/' || d.theme || '/' || d.city || '/[0-9]{8}T[0-9]{6}-[0-9a-f]{8}\.tif$');
ALTER TABLE sdi.rasters ADD CONSTRAINT rasters_relative_name
    CHECK (path ~ '^[a-z][a-z0-9_]{0,62}/[0-9]{7}/[0-9]{8}T[0-9]{6}-[0-9a-f]{8}\.tif$') NOT VALID;

-- May the caller act for this city? Its own city, or any city for the owner of the catalogue (and the
-- superusers above it). Any other login, a member of sdi_loader without a city name included, may not.
CREATE FUNCTION sdi.check_caller(p_city text) RETURNS void LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    own text := sdi.current_city();
BEGIN
    IF own IS NULL THEN
        IF NOT pg_catalog.pg_has_role(session_user,
                (SELECT n.nspowner FROM pg_catalog.pg_namespace n WHERE n.nspname = 'sdi'), 'USAGE') THEN
            RAISE EXCEPTION 'login % may not write the catalogue', session_user USING ERRCODE = 'insufficient_privilege';
        END IF;
    ELSIF p_city IS DISTINCT FROM own THEN
        RAISE EXCEPTION 'this login (city %) may not act for city %', own, p_city USING ERRCODE = 'insufficient_privilege';
    END IF;
END
$$;

-- The load row, locked, once the caller is known to be its city's; an error for anything else.
CREATE FUNCTION sdi.check_load(p_load bigint, p_state text) RETURNS sdi.loads LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    l sdi.loads;
BEGIN
    SELECT * INTO l FROM sdi.loads WHERE load_id = p_load FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'there is no load %', p_load USING ERRCODE = 'insufficient_privilege';
    END IF;
    PERFORM sdi.check_caller(l.city);
    IF l.state IS DISTINCT FROM p_state THEN
        RAISE EXCEPTION 'load % is %, not %', p_load, l.state, p_state USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN l;
END
$$;

CREATE FUNCTION sdi.begin_load(p_city text, p_theme text, p_source text, p_source_layer text, p_detected jsonb,
                               p_size bigint, p_sha256 text, p_operator text, p_version text,
                               p_started timestamptz) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    id bigint;
BEGIN
    PERFORM sdi.check_caller(p_city);
    INSERT INTO sdi.loads (city, theme, source, source_layer, feature_count, reject_count, detected, source_size,
                           source_sha256, operator, sdi_version, started_at, state)
    VALUES (p_city, p_theme, p_source, p_source_layer, 0, 0, coalesce(p_detected, '{}'), p_size, p_sha256,
            coalesce(p_operator, session_user::text), p_version, p_started, 'begun')
    RETURNING load_id INTO id;
    RETURN id;
END
$$;

-- Finish a begun load with its counts, which must be the rows it really holds.
CREATE FUNCTION sdi.finish_load(p_load bigint, p_features integer, p_rejects integer) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    l sdi.loads := sdi.check_load(p_load, 'begun');
    stored bigint;
BEGIN
    IF pg_catalog.to_regclass(pg_catalog.format('history.%I', l.theme)) IS NOT NULL THEN
        EXECUTE pg_catalog.format('SELECT count(*) FROM history.%I WHERE load_id = $1', l.theme)
            INTO stored USING p_load;
        IF stored IS DISTINCT FROM p_features::bigint THEN
            RAISE EXCEPTION 'load % holds % features, not %', p_load, stored, p_features
                USING ERRCODE = 'insufficient_privilege';
        END IF;
    END IF;
    IF (SELECT count(*) FROM sdi.rejects WHERE load_id = p_load) IS DISTINCT FROM p_rejects::bigint THEN
        RAISE EXCEPTION 'load % has not % rejects', p_load, p_rejects USING ERRCODE = 'insufficient_privilege';
    END IF;
    UPDATE sdi.loads SET feature_count = p_features, reject_count = p_rejects, loaded_at = pg_catalog.clock_timestamp(),
                         state = 'finished'
     WHERE load_id = p_load;
END
$$;

-- The one way to switch a layer's current version: a load, a raster load and a rollback all come here.
CREATE FUNCTION sdi.set_current(p_city text, p_theme text, p_load bigint) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    l sdi.loads;
BEGIN
    PERFORM sdi.check_caller(p_city);
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('sdi.load'), pg_catalog.hashtext(p_city || ':' || p_theme));
    l := sdi.check_load(p_load, 'finished');
    IF l.city IS DISTINCT FROM p_city::bpchar OR l.theme IS DISTINCT FROM p_theme THEN
        RAISE EXCEPTION 'load % is not a version of % for city %', p_load, p_theme, p_city
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    INSERT INTO sdi.layers (city, theme, load_id) VALUES (p_city, p_theme, p_load)
        ON CONFLICT (city, theme) DO UPDATE SET load_id = EXCLUDED.load_id;
END
$$;

-- The COG of a begun raster load, named as sdi.raster_store names it.
CREATE FUNCTION sdi.add_raster(p_load bigint, p_path text, p_width integer, p_height integer, p_bands integer,
                               p_dtype text, p_nodata double precision, p_resolution double precision,
                               p_bytes bigint, p_low double precision, p_high double precision,
                               p_xmin double precision, p_ymin double precision, p_xmax double precision,
                               p_ymax double precision) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    l sdi.loads := sdi.check_load(p_load, 'begun');
    prefix text := l.theme || '/' || l.city || '/';
BEGIN
    IF pg_catalog.left(p_path, pg_catalog.length(prefix)) IS DISTINCT FROM prefix
       OR pg_catalog.substr(p_path, pg_catalog.length(prefix) + 1) !~ '^[0-9]{8}T[0-9]{6}-[0-9a-f]{8}\.tif$' THEN
        RAISE EXCEPTION 'a raster of load % must be named %<YYYYmmddTHHMMSS>-<8 hex>.tif', p_load, prefix
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- The text is cast to geometry by PostGIS's cast, found by type and not by search_path.
    INSERT INTO sdi.rasters (load_id, path, width, height, bands, dtype, nodata, resolution, bytes, low, high, bounds)
    VALUES (p_load, p_path, p_width, p_height, p_bands, p_dtype, p_nodata, p_resolution, p_bytes, p_low, p_high,
            pg_catalog.format('SRID=2180;POLYGON((%s %s,%s %s,%s %s,%s %s,%s %s))', p_xmin, p_ymin, p_xmin, p_ymax,
                              p_xmax, p_ymax, p_xmax, p_ymin, p_xmin, p_ymin));
END
$$;

-- The rejects of a begun load, as a JSON array of {source_index, source_id, reason, properties, geom}
-- with geom as hex EWKB: COPY cannot run under row-level security, and a city's login has no INSERT.
CREATE FUNCTION sdi.add_rejects(p_load bigint, p_rows jsonb) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    PERFORM sdi.check_load(p_load, 'begun');
    INSERT INTO sdi.rejects (load_id, source_index, source_id, reason, properties, geom)
    SELECT p_load, r.source_index, r.source_id, r.reason, r.properties, r.geom
      FROM pg_catalog.jsonb_to_recordset(p_rows) AS r(source_index integer, source_id text, reason text,
                                                      properties jsonb, geom text);
END
$$;

REVOKE ALL ON FUNCTION sdi.check_caller(text), sdi.check_load(bigint, text),
    sdi.begin_load(text, text, text, text, jsonb, bigint, text, text, text, timestamptz),
    sdi.finish_load(bigint, integer, integer), sdi.set_current(text, text, bigint),
    sdi.add_raster(bigint, text, integer, integer, integer, text, double precision, double precision, bigint,
                   double precision, double precision, double precision, double precision, double precision,
                   double precision),
    sdi.add_rejects(bigint, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    sdi.begin_load(text, text, text, text, jsonb, bigint, text, text, text, timestamptz),
    sdi.finish_load(bigint, integer, integer), sdi.set_current(text, text, bigint),
    sdi.add_raster(bigint, text, integer, integer, integer, text, double precision, double precision, bigint,
                   double precision, double precision, double precision, double precision, double precision,
                   double precision),
    sdi.add_rejects(bigint, jsonb) TO sdi_loader;

REVOKE INSERT, UPDATE, DELETE ON sdi.loads, sdi.layers, sdi.rasters, sdi.rejects FROM sdi_loader;
REVOKE USAGE ON SEQUENCE sdi.loads_load_id_seq FROM sdi_loader;

-- Tokens bound to their scope: whether a token is live, and which city it is for (NULL: every city).
CREATE FUNCTION data.sdi_token_scope(hash text) RETURNS TABLE (valid boolean, city text)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$ SELECT EXISTS (SELECT 1 FROM sdi.tokens t WHERE t.token_hash = hash AND t.revoked_at IS NULL),
          (SELECT t.city::text FROM sdi.tokens t WHERE t.token_hash = hash AND t.revoked_at IS NULL) $$;
REVOKE ALL ON FUNCTION data.sdi_token_scope(text) FROM PUBLIC;

-- Existing themes: history rows only for the city's own begun load of that theme, and views that join on
-- load_id AND city. Views are made fail-closed here (a city's login sees only its own rows) until
-- `sdi init` or the next load rebuilds each from its schema (sdi.load.ensure_theme_table).
DO $$
DECLARE t record;
BEGIN
    FOR t IN SELECT c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'history' AND c.relkind = 'r' LOOP
        EXECUTE format('DROP POLICY IF EXISTS own_city ON history.%I', t.relname);
        EXECUTE format('CREATE POLICY own_city ON history.%1$I USING (city = (SELECT sdi.current_city()))'
                       ' WITH CHECK (city = (SELECT sdi.current_city()) AND EXISTS (SELECT 1 FROM sdi.loads l'
                       ' WHERE l.load_id = %1$I.load_id AND l.city = %1$I.city AND l.theme = %2$L'
                       ' AND l.state = ''begun''))', t.relname, t.relname);
        IF to_regclass(format('data.%I', t.relname)) IS NOT NULL THEN
            EXECUTE format('CREATE OR REPLACE VIEW data.%1$I AS SELECT h.* FROM history.%1$I h'
                           ' JOIN sdi.layers l ON l.load_id = h.load_id AND l.city = h.city AND l.theme = %1$L'
                           ' WHERE (SELECT sdi.current_city()) IS NULL OR h.city = (SELECT sdi.current_city())', t.relname);
        END IF;
    END LOOP;
END $$;
