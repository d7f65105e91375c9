-- The current rows of one theme {v}: the rows of history {t} whose load is current for their own city
-- and this theme {theme} (joining on load_id alone let a layer row of one city publish another city's load).
CREATE OR REPLACE VIEW {v} AS
    SELECT h.* FROM {t} h
    JOIN sdi.layers l ON l.load_id = h.load_id AND l.city = h.city AND l.theme = {theme}
    {restricted};
-- Which form this view has; sdi.load.ensure_theme_table rebuilds it when the schema's access changes.
COMMENT ON VIEW {v} IS {marker};
