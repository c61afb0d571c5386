#!/usr/bin/env bash
# Restore a dump made by backup.sh.
#
#   restore.sh FILE.dump           into an EMPTY database
#   restore.sh --check FILE.dump   only check that FILE.dump is a whole dump pg_restore can read; touch nothing
#
# Connection as in backup.sh: DATABASE_URL when set, else PGHOST, PGUSER, PGPASSWORD, PGDATABASE.
# The file is checked before anything else: a missing file, a directory (what Docker leaves when the
# source of a bind mount does not exist) or anything pg_restore cannot list is refused with exit 2.
# Refuses a database that already has tables (create it empty first; deploy/restore-stack.sh does
# that for the compose stack). All or nothing: one transaction, stops at the first error.
# The restored schema may be older than the code: `manage.py migrate` (the compose `migrate`
# service) brings it up to date afterwards.
set -o errexit -o pipefail -o nounset

fail() {
  echo "restore: $*" >&2
  exit 2
}

# check_dump FILE: exit 2 unless FILE is a regular, readable file that pg_restore can list.
check_dump() {
  local error
  [ -e "$1" ] || fail "$1 does not exist"
  [ -f "$1" ] || fail "$1 is not a file (a directory? Docker creates one when the path it should mount does not exist)"
  [ -r "$1" ] || fail "cannot read $1"
  error=$(pg_restore --list "$1" 2>&1 > /dev/null) || fail "$1 is not a dump made by backup.sh: $error"
}

check_only=""
if [ "${1:-}" = "--check" ]; then check_only=1; shift; fi
dump=${1:?usage: restore.sh [--check] FILE.dump}
check_dump "$dump"
if [ -n "$check_only" ]; then
  echo "restore: $dump is a readable dump"
  exit 0
fi
database=${DATABASE_URL:-${PGDATABASE:?set DATABASE_URL or PGDATABASE}}

tables=$(psql --no-psqlrc --tuples-only --no-align --dbname="$database" \
  --command "select count(*) from pg_tables where schemaname = 'public'")
if [ "$tables" != "0" ]; then
  echo "restore: the database already has $tables tables; restore only into an empty database" >&2
  exit 3
fi

pg_restore --exit-on-error --single-transaction --no-owner --no-privileges --dbname="$database" "$dump"
echo "restore: $dump restored"
