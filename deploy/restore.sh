#!/usr/bin/env bash
# Restore a backup made by backup.sh: the dump, and the media archive beside it.
#
#   restore.sh FILE.dump             into an EMPTY database; refuses one that already has tables (exit 3)
#   restore.sh --replace FILE.dump   replace everything in schema public with the dump (restore-stack.sh)
#   restore.sh --media ARCHIVE DIR   replace the contents of DIR (the media folder) with ARCHIVE
#   restore.sh --check FILE...       only check each FILE: a .dump pg_restore can read, a .tar.gz tar
#                                    can read to the end; touch nothing
#
# Connection as in backup.sh: DATABASE_URL when set (an external database), else PGHOST, PGUSER,
# PGPASSWORD, PGDATABASE (the compose `postgres` container).
# Files are checked before anything else: a missing file, a directory (what Docker leaves when the
# source of a bind mount does not exist) or anything pg_restore cannot list is refused with exit 2.
# All or nothing: one transaction, stops at the first error. With --replace the same transaction
# first drops schema public with everything in it, so a failed restore leaves the old data in place;
# the database user must own schema public (the database's owner does, from PostgreSQL 15 on).
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

# check_archive FILE: exit 2 unless FILE is a regular, readable gzip'd tar, read to its end.
check_archive() {
  local error
  [ -e "$1" ] || fail "$1 does not exist"
  [ -f "$1" ] || fail "$1 is not a file (a directory? Docker creates one when the path it should mount does not exist)"
  [ -r "$1" ] || fail "cannot read $1"
  error=$(tar --list --gzip --file="$1" 2>&1 > /dev/null) || fail "$1 is not a media archive made by backup.sh: $error"
}

check() {
  case "$1" in
    *.tar.gz) check_archive "$1" ;;
    *) check_dump "$1" ;;
  esac
}

# restore_media ARCHIVE DIR: empty DIR (a volume's mount point: it stays), then unpack ARCHIVE into it.
# As root, tar gives the files their numeric owners from the archive, the app's user.
restore_media() {
  check_archive "$1"
  [ -d "$2" ] || fail "$2 is not a directory"
  find "$2" -mindepth 1 -delete
  tar --extract --gzip --numeric-owner --file="$1" --directory="$2"
  echo "restore: $2 now holds the files of $1"
}

# replace_database: one psql transaction: drop schema public, recreate it, run the dump's SQL, commit.
replace_database() {
  {
    echo 'BEGIN;'
    echo 'DROP SCHEMA IF EXISTS public CASCADE;'
    echo 'CREATE SCHEMA public;'
    # A dump that breaks off midway (pg_restore --list only reads its table of contents) sends no
    # COMMIT: psql reaches the end of its input and the server rolls the whole transaction back.
    pg_restore --no-owner --no-privileges --file=- "$dump" || exit 1
    echo 'COMMIT;'
  } | psql --no-psqlrc --quiet --set ON_ERROR_STOP=1 --dbname="$database" > /dev/null
}

case "${1:-}" in
  --check)
    shift
    [ "$#" -gt 0 ] || fail "usage: restore.sh --check FILE..."
    for file in "$@"; do check "$file"; done
    echo "restore: readable: $*"
    exit 0
    ;;
  --media)
    [ "$#" -eq 3 ] || fail "usage: restore.sh --media ARCHIVE DIR"
    restore_media "$2" "$3"
    exit 0
    ;;
esac

mode=""
if [ "${1:-}" = "--replace" ]; then mode=$1; shift; fi
dump=${1:?usage: restore.sh [--replace] FILE.dump}
check_dump "$dump"
database=${DATABASE_URL:-${PGDATABASE:?set DATABASE_URL or PGDATABASE}}

if [ "$mode" = "--replace" ]; then
  replace_database || {
    status=$?
    echo "restore: FAILED (see above); nothing changed, the database holds the data it had" >&2
    exit "$status"
  }
  echo "restore: $dump restored, replacing the previous data"
  exit 0
fi

tables=$(psql --no-psqlrc --tuples-only --no-align --dbname="$database" \
  --command "select count(*) from pg_tables where schemaname = 'public'")
if [ "$tables" != "0" ]; then
  echo "restore: the database already has $tables tables; restore only into an empty database" >&2
  exit 3
fi

pg_restore --exit-on-error --single-transaction --no-owner --no-privileges --dbname="$database" "$dump"
echo "restore: $dump restored"
