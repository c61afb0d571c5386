#!/usr/bin/env bash
# Restore the compose stack's database, and its uploaded files, from a backup made by backup.sh.
# Run on the VPS, from anywhere:
#
#   deploy/restore-stack.sh backups/sto-20260101-033000.dump          asks before replacing the data
#   deploy/restore-stack.sh --yes backups/sto-20260101-033000.dump    no question (scripts)
#
# The media archive beside the dump (sto-….media.tar.gz, same name) is restored into the `media`
# volume too; a dump without one (made before backups included media) leaves the media as it is.
# Steps: check the dump and the archive (nothing is stopped or changed unless both read) -> stop
# the app (web, bot, worker, beat, backup) -> take one more backup of the current data
# (backups/pre-restore-*.dump and .media.tar.gz, never rotated, so they cannot push the chosen dump
# out of the folder) -> `restore.sh --replace`: in one transaction, drop everything in the database
# and restore the dump (a failure leaves the old data) -> replace the media volume's files with the
# archive's -> start the services that were running again (the one-shot `migrate` runs first and
# brings a dump from an older release up to the current code).
# The database is the one the backup service dumps: DATABASE_URL from .env when set (an external
# database), else the compose `postgres` container.
# Uses the same `docker compose` settings as the stack (COMPOSE_FILE, COMPOSE_PROJECT_NAME, .env).
set -o errexit -o pipefail -o nounset

yes=""
if [ "${1:-}" = "--yes" ]; then yes=1; shift; fi
dump=${1:?usage: deploy/restore-stack.sh [--yes] FILE.dump}
# Only that it is a file here: the dumps belong to the backup container's root (mode 600), so this
# shell may not be able to read them; the backup container checks the content below.
[ -f "$dump" ] || { echo "restore-stack: $dump is not a file; give the path of a .dump in the backup folder" >&2; exit 2; }
dump=$(cd "$(dirname "$dump")" && pwd)/$(basename "$dump")
media=${dump%.dump}.media.tar.gz
cd "$(dirname "$0")/.."

# The backup service's image and connection, with the chosen files at fixed paths inside.
mounts=(--volume "$dump:/restore/backup.dump:ro")
checks=(/restore/backup.dump)
if [ -f "$media" ]; then
  mounts+=(--volume "$media:/restore/backup.media.tar.gz:ro")
  checks+=(/restore/backup.media.tar.gz)
  what="the database and the uploaded files"
else
  media=""
  what="the database (no $(basename "${dump%.dump}").media.tar.gz beside it: uploaded files stay as they are)"
fi
in_backup() {
  docker compose run --rm --no-deps "${mounts[@]}" --entrypoint /deploy/restore.sh backup "$@"
}

echo "restore-stack: checking $dump${media:+ and $media}"
in_backup --check "${checks[@]}"

if [ -z "$yes" ]; then
  echo "restore-stack: will replace $what"
  read -r -p "Replace ALL data in the database with $dump? Type yes: " answer
  [ "$answer" = "yes" ] || { echo "restore-stack: cancelled, nothing changed"; exit 1; }
fi

running=$(docker compose ps --services --status running | grep -v -x -e postgres -e redis || true)
echo "restore-stack: stopping the app"
docker compose stop web bot worker beat backup
docker compose up --detach --wait postgres

echo "restore-stack: backing up the current data first (pre-restore-* in the backup folder)"
docker compose run --rm --no-deps --entrypoint /deploy/backup.sh backup --pre-restore

echo "restore-stack: replacing the data with $dump"
in_backup --replace /restore/backup.dump || {
  echo "restore-stack: the app is stopped; start it again with: docker compose up -d" >&2
  exit 1
}
if [ -n "$media" ]; then
  echo "restore-stack: replacing the uploaded files with $media"
  # `media` here is the stack's named volume, the one web and the worker mount at /app/media.
  docker compose run --rm --no-deps "${mounts[@]}" --volume media:/restore/media \
    --entrypoint /deploy/restore.sh backup --media /restore/backup.media.tar.gz /restore/media || {
    echo "restore-stack: the database is restored, the uploaded files are NOT (see above); the app is stopped" >&2
    exit 1
  }
else
  echo "restore-stack: no media archive beside the dump: the uploaded files stay as they are"
fi

if [ -n "$running" ]; then
  echo "restore-stack: starting again: ${running//$'\n'/ }"
  # shellcheck disable=SC2086 # one service name per word
  docker compose up --detach --wait $running
fi
echo "restore-stack: done"
