-- history.<theme> partitioned by load (issue 17): a load's cost depends on its own size only.
--
-- Each load COPYs (binary) into a fresh table of its own with no index, then builds that table's primary
-- key and GiST index, ANALYZEs it and attaches it as the partition FOR VALUES IN (load_id). The table is
-- made with CHECK (load_id = N AND city = '...'), which implies the partition constraint, so ATTACH skips
-- its validation scan. There is no default partition (ATTACH would have to scan and lock it). Tables of
-- existing themes are converted by `sdi init` or the next load (sdi.loader.load.ensure_theme_table).
--
-- A city's login loads by the same path: COPY is refused under row-level security, so the fresh table has
-- none, and the functions below grant the city INSERT on that one table for that one load, then revoke it,
-- check what came in, and attach. Queries through history.<theme> (the parent) keep its RLS policy.

-- A load's table: '#' cannot occur in a theme id, so the name never meets a theme's own table.
CREATE FUNCTION sdi.load_table(p_theme text, p_load bigint) RETURNS text LANGUAGE sql IMMUTABLE
    SET search_path = pg_catalog, pg_temp AS
$$ SELECT pg_catalog.left(p_theme, 40) || '#' || p_load::text $$;

CREATE FUNCTION sdi.partitioned(p_theme text) RETURNS boolean LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp AS
$$ SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                  WHERE n.nspname = 'history' AND c.relname = p_theme AND c.relkind = 'p') $$;

-- Create the fresh table of a begun load, with no index; a city's login may INSERT into it (and only it).
CREATE FUNCTION sdi.open_load_table(p_load bigint) RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    l sdi.loads := sdi.check_load(p_load, 'begun');
    name text := sdi.load_table(l.theme, p_load);
BEGIN
    IF NOT sdi.partitioned(l.theme) THEN
        RAISE EXCEPTION 'history.% is not partitioned by load', l.theme USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'the administrator runs sdi init';
    END IF;
    EXECUTE pg_catalog.format('CREATE TABLE history.%I (LIKE history.%I INCLUDING DEFAULTS,'
                              ' CONSTRAINT load_rows CHECK (load_id = %s AND city = %L))',
                              name, l.theme, p_load, l.city);
    IF sdi.current_city() IS NOT NULL THEN
        EXECUTE pg_catalog.format('GRANT INSERT ON history.%I TO %I', name, session_user);
    END IF;
    RETURN name;
END
$$;

-- After the COPY: take the grant back, check the rows, build the indexes once, ANALYZE, attach.
CREATE FUNCTION sdi.close_load_table(p_load bigint) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    l sdi.loads := sdi.check_load(p_load, 'begun');
    name text := sdi.load_table(l.theme, p_load);
    bad bigint;
BEGIN
    IF sdi.current_city() IS NOT NULL THEN
        EXECUTE pg_catalog.format('REVOKE ALL ON history.%I FROM %I', name, session_user);
    END IF;
    -- The CHECK refused every foreign row at COPY time; the city could not drop it (it owns nothing),
    -- and this scan proves it again before the rows become part of the history.
    EXECUTE pg_catalog.format('SELECT count(*) FROM history.%I WHERE city IS DISTINCT FROM %L'
                              ' OR load_id IS DISTINCT FROM %s', name, l.city, p_load) INTO bad;
    IF bad > 0 THEN
        RAISE EXCEPTION 'load % holds % rows of another city or load', p_load, bad USING ERRCODE = 'insufficient_privilege';
    END IF;
    EXECUTE pg_catalog.format('ALTER TABLE history.%I ADD PRIMARY KEY (fid, load_id)', name);
    EXECUTE pg_catalog.format('CREATE INDEX ON history.%I USING gist (geom)', name);
    EXECUTE pg_catalog.format('ANALYZE history.%I', name);
    -- The parent's indexes find these two and adopt them; the CHECK spares the scan.
    EXECUTE pg_catalog.format('ALTER TABLE history.%I ATTACH PARTITION history.%I FOR VALUES IN (%s)',
                              l.theme, name, p_load);
    -- The partition bound now says load_id; the owner may still file rows by hand through the parent.
    EXECUTE pg_catalog.format('ALTER TABLE history.%I DROP CONSTRAINT load_rows', name);
END
$$;

-- Begin a load as sdi.begin_load did, and nothing else: sdi's own loader opens its fresh table next.
CREATE FUNCTION sdi.begin_fresh_load(p_city text, p_theme text, p_source text, p_source_layer text, p_detected jsonb,
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

-- sdi.begin_load keeps working for rows written by hand through history.<theme>: it attaches an empty
-- partition for the load (the parent's indexes come with it), so that an INSERT finds where to go.
CREATE OR REPLACE FUNCTION sdi.begin_load(p_city text, p_theme text, p_source text, p_source_layer text,
                                          p_detected jsonb, p_size bigint, p_sha256 text, p_operator text,
                                          p_version text, p_started timestamptz) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    id bigint := sdi.begin_fresh_load(p_city, p_theme, p_source, p_source_layer, p_detected, p_size, p_sha256,
                                      p_operator, p_version, p_started);
    name text := sdi.load_table(p_theme, id);
BEGIN
    IF sdi.partitioned(p_theme) THEN
        EXECUTE pg_catalog.format('CREATE TABLE history.%I (LIKE history.%I INCLUDING DEFAULTS,'
                                  ' CONSTRAINT load_rows CHECK (load_id = %s))', name, p_theme, id);
        EXECUTE pg_catalog.format('ALTER TABLE history.%I ATTACH PARTITION history.%I FOR VALUES IN (%s)',
                                  p_theme, name, id);
    END IF;
    RETURN id;
END
$$;

REVOKE ALL ON FUNCTION sdi.open_load_table(bigint), sdi.close_load_table(bigint),
    sdi.begin_fresh_load(text, text, text, text, jsonb, bigint, text, text, text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sdi.open_load_table(bigint), sdi.close_load_table(bigint),
    sdi.begin_fresh_load(text, text, text, text, jsonb, bigint, text, text, text, timestamptz) TO sdi_loader;

-- Whether load p_load has a partition of history.<theme>, and the refusal of rows that have none.
CREATE FUNCTION sdi.has_partition(p_theme text, p_load bigint) RETURNS boolean LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp AS
$$ SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i
                  WHERE i.inhparent = pg_catalog.to_regclass(pg_catalog.format('history.%I', p_theme))
                    AND i.inhrelid = pg_catalog.to_regclass(pg_catalog.format('history.%I', sdi.load_table(p_theme, p_load)))) $$;

CREATE FUNCTION sdi.refuse_rows(p_theme text, p_load bigint) RETURNS void LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    RAISE EXCEPTION 'load % is no begun load of %', p_load, p_theme USING ERRCODE = 'insufficient_privilege';
END
$$;
