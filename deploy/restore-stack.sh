#!/usr/bin/env bash
# Restore the compose stack's database from a dump made by backup.sh. Run on the VPS, from anywhere:
#
#   deploy/restore-stack.sh backups/sto-20260101-033000.dump          asks before replacing the data
#   deploy/restore-stack.sh --yes backups/sto-20260101-033000.dump    no question (scripts)
#
# Steps: check the dump (a file pg_restore can read; nothing is stopped or changed otherwise) -> stop
# the app (web, bot, worker, beat, backup) -> take one more backup of the current data
# (backups/pre-restore-*.dump, never rotated, so it cannot push the chosen dump out of the folder)
# -> drop and recreate the database -> restore.sh -> start the services that were running again (the
# one-shot `migrate` runs first and brings a dump from an older release up to the current code).
# Uses the same `docker compose` settings as the stack (COMPOSE_FILE, COMPOSE_PROJECT_NAME, .env).
set -o errexit -o pipefail -o nounset

yes=""
if [ "${1:-}" = "--yes" ]; then yes=1; shift; fi
dump=${1:?usage: deploy/restore-stack.sh [--yes] FILE.dump}
# Only that it is a file here: the dumps belong to the backup container's root (mode 600), so this
# shell may not be able to read them; the backup container checks the content below.
[ -f "$dump" ] || { echo "restore-stack: $dump is not a file; give the path of a .dump in the backup folder" >&2; exit 2; }
dump=$(cd "$(dirname "$dump")" && pwd)/$(basename "$dump")
cd "$(dirname "$0")/.."

# The backup service's image and connection, with the chosen dump at a fixed path inside.
in_backup() {
  docker compose run --rm --no-deps --volume "$dump:/restore/backup.dump:ro" --entrypoint /deploy/restore.sh backup "$@"
}

echo "restore-stack: checking $dump"
in_backup --check /restore/backup.dump

if [ -z "$yes" ]; then
  read -r -p "Replace ALL data in the database with $dump? Type yes: " answer
  [ "$answer" = "yes" ] || { echo "restore-stack: cancelled, nothing changed"; exit 1; }
fi

running=$(docker compose ps --services --status running | grep -v -x -e postgres -e redis || true)
echo "restore-stack: stopping the app"
docker compose stop web bot worker beat backup
docker compose up --detach --wait postgres

echo "restore-stack: backing up the current data first (backups/pre-restore-*.dump)"
docker compose run --rm --no-deps --entrypoint /deploy/backup.sh backup --pre-restore

echo "restore-stack: recreating an empty database"
# shellcheck disable=SC2016 # expanded inside the postgres container, from its own environment
docker compose exec -T postgres sh -c \
  'dropdb --force --username "$POSTGRES_USER" "$POSTGRES_DB" && createdb --username "$POSTGRES_USER" "$POSTGRES_DB"'

echo "restore-stack: restoring $dump"
in_backup /restore/backup.dump

if [ -n "$running" ]; then
  echo "restore-stack: starting again: ${running//$'\n'/ }"
  # shellcheck disable=SC2086 # one service name per word
  docker compose up --detach --wait $running
fi
echo "restore-stack: done"
