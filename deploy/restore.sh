#!/usr/bin/env bash
# Restore a dump made by backup.sh into an EMPTY database.
#
#   restore.sh FILE.dump
#
# Connection as in backup.sh: DATABASE_URL when set, else PGHOST, PGUSER, PGPASSWORD, PGDATABASE.
# Refuses a database that already has tables (create it empty first; deploy/restore-stack.sh does
# that for the compose stack). All or nothing: one transaction, stops at the first error.
# The restored schema may be older than the code: `manage.py migrate` (the compose `migrate`
# service) brings it up to date afterwards.
set -o errexit -o pipefail -o nounset

dump=${1:?usage: restore.sh FILE.dump}
[ -r "$dump" ] || { echo "restore: cannot read $dump" >&2; exit 2; }
database=${DATABASE_URL:-${PGDATABASE:?set DATABASE_URL or PGDATABASE}}

tables=$(psql --no-psqlrc --tuples-only --no-align --dbname="$database" \
  --command "select count(*) from pg_tables where schemaname = 'public'")
if [ "$tables" != "0" ]; then
  echo "restore: the database already has $tables tables; restore only into an empty database" >&2
  exit 3
fi

pg_restore --exit-on-error --single-transaction --no-owner --no-privileges --dbname="$database" "$dump"
echo "restore: $dump restored"
