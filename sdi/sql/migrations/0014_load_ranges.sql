-- Where each load's rows lie: its fid range and its extent (issue 17, the national latency goal).
--
-- The API binds the current load ids of a theme so that PostgreSQL plans only their partitions; with 2,477
-- cities that is still 2,477 partitions to plan for every request (68-100 ms of planning at 151 cities).
-- With each load's fid range and extent in the catalogue, sdi.server.partition_scope binds only the loads a
-- request can touch: the one whose range holds items/{fid}, the ones whose extent meets a bbox or a tile.
-- Both are computed by close_load_table in the scan that already proves every row's city, so they are
-- exact for every load made by sdi's loader; a load without them (written by hand through sdi.begin_load,
-- or before this migration and not yet backfilled) is never pruned.
ALTER TABLE sdi.loads ADD COLUMN IF NOT EXISTS fid_min bigint;
ALTER TABLE sdi.loads ADD COLUMN IF NOT EXISTS fid_max bigint;
ALTER TABLE sdi.loads ADD COLUMN IF NOT EXISTS row_count bigint;
ALTER TABLE sdi.loads ADD COLUMN IF NOT EXISTS extent public.box2d;  -- EPSG:2180, as stored

CREATE OR REPLACE FUNCTION sdi.close_load_table(p_load bigint) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    l sdi.loads := sdi.check_load(p_load, 'begun');
    name text := sdi.load_table(l.theme, p_load);
    bad bigint;
    lo bigint;
    hi bigint;
    n bigint;
    box public.box2d;
BEGIN
    IF sdi.current_city() IS NOT NULL THEN
        EXECUTE pg_catalog.format('REVOKE ALL ON history.%I FROM %I', name, session_user);
    END IF;
    -- The CHECK refused every foreign row at COPY time; the city could not drop it (it owns nothing),
    -- and this scan proves it again before the rows become part of the history. The same scan records
    -- where the rows lie, for the API's partition pruning.
    EXECUTE pg_catalog.format('SELECT count(*) FILTER (WHERE city IS DISTINCT FROM %L OR load_id IS DISTINCT FROM %s),'
                              ' min(fid), max(fid), count(*), public.ST_Extent(geom) FROM history.%I',
                              l.city, p_load, name) INTO bad, lo, hi, n, box;
    IF bad > 0 THEN
        RAISE EXCEPTION 'load % holds % rows of another city or load', p_load, bad USING ERRCODE = 'insufficient_privilege';
    END IF;
    UPDATE sdi.loads SET fid_min = lo, fid_max = hi, row_count = n, extent = box WHERE load_id = p_load;
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

-- A row written by hand into a load after its range was taken would fall outside it: a hand-written load
-- (sdi.begin_load) never gets a range, and close_load_table is the last write of a fresh load.

-- Loads made before this migration: their range from their partition, where it exists. Cheap per load
-- (one scan of its own table); a load whose partition is gone (pruned) keeps NULLs and is never pruned.
DO $$
DECLARE
    r record;
    lo bigint;
    hi bigint;
    n bigint;
    box public.box2d;
BEGIN
    FOR r IN SELECT d.load_id, d.theme FROM sdi.loads d
             WHERE d.state = 'finished' AND d.fid_min IS NULL
               AND pg_catalog.to_regclass(pg_catalog.format('history.%I', sdi.load_table(d.theme, d.load_id))) IS NOT NULL
               AND sdi.partitioned(d.theme) LOOP
        EXECUTE pg_catalog.format('SELECT min(fid), max(fid), count(*), public.ST_Extent(geom) FROM history.%I',
                                  sdi.load_table(r.theme, r.load_id)) INTO lo, hi, n, box;
        UPDATE sdi.loads SET fid_min = lo, fid_max = hi, row_count = n, extent = box WHERE load_id = r.load_id;
    END LOOP;
END
$$;

-- The current loads with where their rows lie, for the API (the reader reads this view, not sdi.loads).
CREATE OR REPLACE VIEW data.sdi_layers AS
    SELECT l.city, l.theme, d.load_id, d.feature_count, d.loaded_at,
           EXISTS (SELECT 1 FROM sdi.rasters r WHERE r.load_id = l.load_id) AS raster,
           d.fid_min, d.fid_max, d.row_count,
           public.ST_XMin(d.extent) AS xmin, public.ST_YMin(d.extent) AS ymin,
           public.ST_XMax(d.extent) AS xmax, public.ST_YMax(d.extent) AS ymax
    FROM sdi.layers l JOIN sdi.loads d USING (load_id);

-- The API asks per theme; (city, theme) as the key alone makes that a scan of every city's layers.
CREATE INDEX IF NOT EXISTS layers_theme_idx ON sdi.layers (theme);
