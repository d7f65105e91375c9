#!/bin/bash
# A streaming replica of the `db` service, made as `sdi db replica add` makes the embedded ones: on first
# start, pg_basebackup -R copies the primary and writes primary_conninfo (standby.signal too), with a
# replication slot of its own so that the primary keeps the WAL this replica has not yet received.
# Later starts find the copy and just start it. Runs as the image's postgres user.
#   environment: REPLICA_SLOT (e.g. replica1), SDI_REPLICATION_PASSWORD
set -euo pipefail
: "${SDI_REPLICATION_PASSWORD:?set SDI_REPLICATION_PASSWORD}"
: "${REPLICA_SLOT:?set REPLICA_SLOT}"
export PGPASSWORD="$SDI_REPLICATION_PASSWORD"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  until pg_isready -h db -p 5432 -q; do sleep 1; done
  base=(pg_basebackup -h db -p 5432 -U sdi_replicator -D "$PGDATA" -R -X stream --checkpoint=fast -S "$REPLICA_SLOT")
  # -C creates the slot; a slot left by an earlier copy of this replica (its volume deleted) is reused.
  "${base[@]}" -C || { rm -rf "${PGDATA:?}"/*; "${base[@]}"; }
  chmod 700 "$PGDATA"
fi
# The same max_locks_per_transaction as the primary: a hot standby refuses to start with less.
exec postgres -c hot_standby=on -c hot_standby_feedback=on -c max_standby_streaming_delay=30s \
     -c max_locks_per_transaction=256
