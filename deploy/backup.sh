#!/usr/bin/env bash
# Back up the database with pg_dump, and the uploaded files, keeping the newest BACKUP_KEEP backups.
#
#   backup.sh           one backup now (ops: `docker compose run --rm --entrypoint /deploy/backup.sh backup`)
#   backup.sh --daily   what the compose `backup` service runs: one backup every day at BACKUP_TIME
#   backup.sh --pre-restore   the safety copy deploy/restore-stack.sh takes before it replaces the data
#
# Connection: DATABASE_URL when set, else libpq's own PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE.
# Writes BACKUP_DIR/sto-YYYYMMDD-HHMMSS.dump in pg_dump's custom format (compressed); restore.sh
# reads it. A dump is written under a temporary name, checked with pg_restore --list, then
# renamed, so a crash never leaves a truncated file that looks like a backup.
# Beside each dump, with the same name: sto-YYYYMMDD-HHMMSS.media.tar.gz, the media folder
# BACKUP_MEDIA_DIR (default /media, the app's `media` volume mounted read-only: import files and
# their rejected-rows XLSX), rotated with its dump. Without that folder only the database is saved.
# Rotation removes only sto-*.dump, each with its archive. A --pre-restore copy is named
# pre-restore-YYYYMMDD-HHMMSS.* and is never rotated: taking it must not delete the oldest sto-*.dump,
# which may be the very dump being restored. Delete pre-restore copies by hand once the restore is good.
set -o errexit -o pipefail -o nounset
umask 077 # dumps hold clients' personal data: readable by the owner only

backup_dir=${BACKUP_DIR:-/backups}
keep=${BACKUP_KEEP:-14}
backup_time=${BACKUP_TIME:-03:30}
media_dir=${BACKUP_MEDIA_DIR:-/media}

# archive_media ARCHIVE: the contents of media_dir as a tar.gz, numeric owners (the app's user has
# no name in this image). Exit status 1 from GNU tar only says a file changed while it was read,
# e.g. an upload in progress: that file may be incomplete in the archive, the rest is good.
archive_media() {
  local status=0
  tar --create --gzip --numeric-owner --file="$1" --directory="$media_dir" . || status=$?
  [ "$status" -le 1 ] || return "$status"
  tar --list --gzip --file="$1" > /dev/null
}

# backup_once PREFIX: writes BACKUP_DIR/PREFIX-YYYYMMDD-HHMMSS.dump and, when there is a media
# folder, PREFIX-YYYYMMDD-HHMMSS.media.tar.gz. The archive is renamed into place before the dump,
# so a dump never lacks the archive its run wrote.
backup_once() {
  local stamp final media # the partials stay global: the EXIT trap may run after this function returned
  stamp=$(date +%Y%m%d-%H%M%S)
  final="$backup_dir/$1-$stamp.dump"
  media="$backup_dir/$1-$stamp.media.tar.gz"
  partial="$backup_dir/.$1-$stamp.dump.partial"
  media_partial="$backup_dir/.$1-$stamp.media.tar.gz.partial"
  mkdir -p "$backup_dir"
  trap 'rm -f "$partial" "$media_partial"' EXIT
  pg_dump --format=custom --no-owner --no-privileges --file="$partial" ${DATABASE_URL:+"--dbname=$DATABASE_URL"}
  pg_restore --list "$partial" > /dev/null
  if [ -d "$media_dir" ]; then
    archive_media "$media_partial"
    mv "$media_partial" "$media"
    echo "backup: wrote $media ($(du -h "$media" | cut -f1))"
  else
    echo "backup: no media folder $media_dir, uploaded files are not in this backup" >&2
  fi
  mv "$partial" "$final"
  trap - EXIT
  echo "backup: wrote $final ($(du -h "$final" | cut -f1))"
}

rotate() {
  # The names sort by time: keep the newest $keep, remove the rest.
  local old
  find "$backup_dir" -maxdepth 1 -type f -name 'sto-*.dump' | sort -r | tail -n +"$((keep + 1))" |
    while read -r old; do
      rm -f -- "$old" "${old%.dump}.media.tar.gz"
      echo "backup: removed $old and its media (keeping the newest $keep)"
    done
}

seconds_until_next_run() {
  local now next
  now=$(date +%s)
  next=$(date -d "today $backup_time" +%s)
  if [ "$next" -le "$now" ]; then next=$(date -d "tomorrow $backup_time" +%s); fi
  echo $((next - now))
}

# A bad setting stops the service at start, naming the variable, rather than at 03:30 every night.
settings_error() {
  echo "backup: $1; fix it in .env and run: docker compose up -d backup" >&2
  exit 2
}
check_keep() {
  case "$keep" in '' | *[!0-9]* | 0) settings_error "BACKUP_KEEP must be a whole number ≥ 1 (how many backups to keep), not '$keep'" ;; esac
}
check_time() {
  # Left to date -d in the loop, 25:00 failed with "invalid date" and the service restarted forever.
  [[ "$backup_time" =~ ^([01]?[0-9]|2[0-3]):[0-5][0-9]$ ]] ||
    settings_error "BACKUP_TIME must be a time of day as HH:MM, 00:00 to 23:59 (e.g. 03:30), not '$backup_time'"
}

case "${1:-}" in
  --daily)
    check_keep
    check_time
    echo "backup: daily at $backup_time ($(date +%Z)) into $backup_dir, keeping $keep"
    while true; do
      sleep "$(seconds_until_next_run)"
      # A separate process, so errexit applies inside it and one failed night does not stop the next.
      "$0" || echo "backup: FAILED at $(date), see the lines above" >&2
    done
    ;;
  --pre-restore)
    backup_once pre-restore # never rotated: see the top of this file
    ;;
  "")
    check_keep
    backup_once sto
    rotate
    ;;
  *)
    echo "usage: backup.sh [--daily | --pre-restore]" >&2
    exit 2
    ;;
esac
