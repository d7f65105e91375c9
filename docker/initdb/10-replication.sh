#!/bin/bash
# Run once by the postgis image at the primary's first start (/docker-entrypoint-initdb.d): the streaming
# replicas' login, REPLICATION and nothing else, with its password from the environment, and the
# pg_hba.conf line that lets it in (the image's "host all all all" does not match the replication pseudo-database).
set -euo pipefail
: "${SDI_REPLICATION_PASSWORD:?set SDI_REPLICATION_PASSWORD}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
     -v pw="$SDI_REPLICATION_PASSWORD" <<'SQL'
CREATE ROLE sdi_replicator LOGIN REPLICATION NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'pw';
SQL
echo "host replication sdi_replicator all scram-sha-256" >> "$PGDATA/pg_hba.conf"
