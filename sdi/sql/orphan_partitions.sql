-- Partitions of history.<theme> named <theme>#<load> whose load has no catalogue row (a killed prune).
SELECT p.relname AS parent, c.relname AS part, i.inhdetachpending AS pending,
       pg_total_relation_size(c.oid) AS bytes
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
JOIN pg_namespace n ON n.oid = p.relnamespace
WHERE n.nspname = 'history' AND c.relname ~ '#[0-9]+$' AND (%(theme)s::text IS NULL OR p.relname = %(theme)s)
  AND NOT EXISTS (SELECT 1 FROM sdi.loads d WHERE d.load_id = substring(c.relname from '#([0-9]+)$')::bigint)
