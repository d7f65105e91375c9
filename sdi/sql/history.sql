-- Every version of one city's theme, newest first, with whether it is the current one.
SELECT d.load_id, d.loaded_at, d.source, d.source_sha256, d.feature_count, d.reject_count,
       d.detected, d.operator, (l.load_id IS NOT NULL) AS current
FROM sdi.loads d
LEFT JOIN sdi.layers l ON l.load_id = d.load_id
WHERE d.city = %(city)s AND d.theme = %(theme)s
ORDER BY d.load_id DESC;
