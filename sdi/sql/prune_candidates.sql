-- Versions `sdi prune` may drop: older than the newest `keep` of their city and theme, and not current.
SELECT load_id, city, theme, (SELECT r.path FROM sdi.rasters r WHERE r.load_id = v.load_id) AS raster
FROM (SELECT d.load_id, d.city, d.theme,
             row_number() OVER (PARTITION BY d.city, d.theme ORDER BY d.load_id DESC) AS age
      FROM sdi.loads d
      WHERE (%(city)s::text IS NULL OR d.city = %(city)s) AND (%(theme)s::text IS NULL OR d.theme = %(theme)s)) v
WHERE age > %(keep)s AND NOT EXISTS (SELECT 1 FROM sdi.layers l WHERE l.load_id = v.load_id)
ORDER BY load_id
