-- Which loads are current, per theme, for the API's per-request check (sdi.server.current_loads): the reader
-- reads only schema data, and data.sdi_layers joins every load's record, which at 2,477 cities cost 3-5 ms
-- per request (twice: the ETag and the partitions). This view is the layers' own ids: count, sum, max and a
-- hash of them answer from the theme's index in about 0.5 ms, and say whether the worker's copy of the
-- theme's loads (their fid ranges and extents) is still the current one.
CREATE OR REPLACE VIEW data.sdi_layer_ids AS SELECT theme, city, load_id FROM sdi.layers;
CREATE INDEX IF NOT EXISTS layers_theme_load_idx ON sdi.layers (theme, load_id);
DROP INDEX IF EXISTS sdi.layers_theme_idx;  -- the new index leads with theme too

-- The themes' views compare the city of their current loads as a range (sdi/sql/theme_view.sql says why: as
-- an equality, the first page of items at 2,477 cities sorted the whole theme). The views of partitioned
-- themes are rebuilt here in that form, restricted ones keeping their city filter; a theme whose history is
-- not partitioned yet gets it when its next load converts it (sdi.load.ensure_theme_table, marker 3).
DO $$
DECLARE
    v record;
    access text;
BEGIN
    FOR v IN SELECT c.relname, obj_description(c.oid, 'pg_class') AS marker
             FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'data' AND c.relkind = 'v'
               AND obj_description(c.oid, 'pg_class') LIKE 'sdi view 2 (%)'
               AND pg_catalog.to_regclass(pg_catalog.format('history.%I', c.relname)) IS NOT NULL
               AND sdi.partitioned(c.relname) LOOP
        access := substring(v.marker FROM '\((\w+)\)');
        EXECUTE pg_catalog.format(
            'CREATE OR REPLACE VIEW data.%1$I AS SELECT h.* FROM history.%1$I h'
            ' JOIN sdi.layers l ON l.load_id = h.load_id AND l.theme = %1$L AND h.city >= l.city AND h.city <= l.city'
            ' %2$s',
            v.relname,
            CASE WHEN access = 'restricted'
                 THEN 'WHERE (SELECT sdi.current_city()) IS NULL OR h.city = (SELECT sdi.current_city())'
                 ELSE '' END);
        EXECUTE pg_catalog.format('COMMENT ON VIEW data.%I IS %L', v.relname, 'sdi view 3 (' || access || ')');
    END LOOP;
END $$;
