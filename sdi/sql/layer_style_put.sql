-- One theme's default style; %(theme)s, %(name)s, %(qml)s and %(sld)s are bound. The type stays NULL:
-- QGIS matches it against the layer's geometry type, which it does not always know when it looks.
DELETE FROM public.layer_styles
WHERE f_table_catalog = current_database() AND f_table_schema = 'data' AND f_table_name = %(theme)s
  AND f_geometry_column = 'geom' AND stylename = %(name)s;
INSERT INTO public.layer_styles (f_table_catalog, f_table_schema, f_table_name, f_geometry_column, stylename,
                                 styleqml, stylesld, useasdefault, description, type)
VALUES (current_database(), 'data', %(theme)s::varchar, 'geom', %(name)s::text,
        XMLPARSE(DOCUMENT %(qml)s), XMLPARSE(DOCUMENT %(sld)s), true, 'sdi: styles/' || %(theme)s::text || '.qml', NULL);
