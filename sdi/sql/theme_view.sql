-- The current rows of one theme {v}: the rows of history {t} whose load is current for their own city
-- and this theme {theme} (joining on load_id alone let a layer row of one city publish another city's load).
-- The city is compared as `>= AND <=`, the same test as `=` for a char(7) code: PostgreSQL estimates each
-- equality of a join by itself, and with 2,477 cities it multiplied 1/2,477 for the load by 1/2,477 for the
-- city, expected 807 of 2,000,000 rows, and sorted the whole theme for the first page of items (1.8 s)
-- instead of reading 100 rows in fid order (0.5 ms). A range comparison is estimated at 1/3 each.
CREATE OR REPLACE VIEW {v} AS
    SELECT h.* FROM {t} h
    JOIN sdi.layers l ON l.load_id = h.load_id AND l.theme = {theme} AND h.city >= l.city AND h.city <= l.city
    {restricted};
-- Which form this view has; sdi.load.ensure_theme_table rebuilds it when the schema's access changes.
COMMENT ON VIEW {v} IS {marker};
