-- The 'analyse' token scope (issue 21): executing the access-standards process queues work that the
-- analysis worker runs with a writer login, so it needs a token made for it:
-- `sdi token add NAME [--city TERYT] --scope analyse`. Bound to a city, it analyses only that city.
ALTER TABLE sdi.tokens DROP CONSTRAINT IF EXISTS tokens_scope_check;
ALTER TABLE sdi.tokens ADD CONSTRAINT tokens_scope_check
    CHECK (scope IN ('read', 'load', 'analyse') AND (scope <> 'load' OR city IS NOT NULL));
