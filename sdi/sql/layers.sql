-- The current load of every (city, theme), newest first.
SELECT l.city, l.theme, d.feature_count, d.reject_count, d.loaded_at, d.source, d.load_id
FROM sdi.layers l
JOIN sdi.loads d USING (load_id)
ORDER BY l.theme, l.city;
