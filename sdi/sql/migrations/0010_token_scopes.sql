-- Token scopes (issue 22, remote loading): a token reads restricted themes ('read', every token made
-- before this migration) or loads one city's data through the upload service at /uploads ('load').
-- A load token is always bound to one city: the service loads for exactly that city and nothing else.
-- Only the owner (the upload service's login) reads sdi.tokens; the API's reader still asks nothing but
-- data.sdi_token_scope / data.sdi_token_valid.
ALTER TABLE sdi.tokens ADD COLUMN IF NOT EXISTS scope text NOT NULL DEFAULT 'read';

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_constraint WHERE conname = 'tokens_scope_check'
                   AND conrelid = 'sdi.tokens'::regclass) THEN
        ALTER TABLE sdi.tokens ADD CONSTRAINT tokens_scope_check
            CHECK (scope IN ('read', 'load') AND (scope <> 'load' OR city IS NOT NULL));
    END IF;
END $$;
