-- The provenance of every current layer, for its metadata record.
SELECT l.city, l.theme, d.load_id, d.source, d.source_layer, d.source_size, d.source_sha256, d.detected,
       d.feature_count, d.reject_count, d.operator, d.sdi_version, d.started_at, d.loaded_at
FROM sdi.layers l JOIN sdi.loads d USING (load_id)
ORDER BY l.theme, l.city
