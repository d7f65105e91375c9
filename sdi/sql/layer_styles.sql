-- QGIS's own table of styles (created as QGIS 3.22 creates it), so that a layer opened straight from
-- PostGIS gets its theme's style by default. sdi owns the rows of its data.<theme> views and rewrites
-- them; styles that users save for other tables are left alone.
CREATE TABLE IF NOT EXISTS public.layer_styles (
    id serial PRIMARY KEY,
    f_table_catalog varchar,
    f_table_schema varchar,
    f_table_name varchar,
    f_geometry_column varchar,
    stylename text,
    styleqml xml,
    stylesld xml,
    useasdefault boolean,
    description text,
    owner varchar(63) DEFAULT CURRENT_USER,
    ui xml,
    update_time timestamp DEFAULT CURRENT_TIMESTAMP,
    type varchar
);
GRANT SELECT ON public.layer_styles TO PUBLIC;
