#!/usr/bin/env bash
# Back up the database with pg_dump, keeping the newest BACKUP_KEEP dumps.
#
#   backup.sh           one backup now (ops: `docker compose run --rm --entrypoint /deploy/backup.sh backup`)
#   backup.sh --daily   what the compose `backup` service runs: one backup every day at BACKUP_TIME
#   backup.sh --pre-restore   the safety copy deploy/restore-stack.sh takes before it replaces the data
#
# Connection: DATABASE_URL when set, else libpq's own PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE.
# Writes BACKUP_DIR/sto-YYYYMMDD-HHMMSS.dump in pg_dump's custom format (compressed); restore.sh
# reads it. A dump is written under a temporary name, checked with pg_restore --list, then
# renamed, so a crash never leaves a truncated file that looks like a backup.
# Rotation removes only sto-*.dump. A --pre-restore copy is named pre-restore-YYYYMMDD-HHMMSS.dump and
# is never rotated: taking it must not delete the oldest sto-*.dump, which may be the very dump being
# restored. Delete pre-restore copies by hand once the restore is known to be good.
set -o errexit -o pipefail -o nounset
umask 077 # dumps hold clients' personal data: readable by the owner only

backup_dir=${BACKUP_DIR:-/backups}
keep=${BACKUP_KEEP:-14}
backup_time=${BACKUP_TIME:-03:30}

# backup_once PREFIX: writes BACKUP_DIR/PREFIX-YYYYMMDD-HHMMSS.dump.
backup_once() {
  local stamp final # partial stays global: the EXIT trap may run after this function has returned
  stamp=$(date +%Y%m%d-%H%M%S)
  final="$backup_dir/$1-$stamp.dump"
  partial="$backup_dir/.$1-$stamp.dump.partial"
  mkdir -p "$backup_dir"
  trap 'rm -f "$partial"' EXIT
  pg_dump --format=custom --no-owner --no-privileges --file="$partial" ${DATABASE_URL:+"--dbname=$DATABASE_URL"}
  pg_restore --list "$partial" > /dev/null
  mv "$partial" "$final"
  trap - EXIT
  echo "backup: wrote $final ($(du -h "$final" | cut -f1))"
}

rotate() {
  # The names sort by time: keep the newest $keep, remove the rest.
  local old
  find "$backup_dir" -maxdepth 1 -type f -name 'sto-*.dump' | sort -r | tail -n +"$((keep + 1))" |
    while read -r old; do
      rm -f -- "$old"
      echo "backup: removed $old (keeping the newest $keep)"
    done
}

seconds_until_next_run() {
  local now next
  now=$(date +%s)
  next=$(date -d "today $backup_time" +%s)
  if [ "$next" -le "$now" ]; then next=$(date -d "tomorrow $backup_time" +%s); fi
  echo $((next - now))
}

if [ "${1:-}" = "--daily" ]; then
  echo "backup: daily at $backup_time ($(date +%Z)) into $backup_dir, keeping $keep"
  while true; do
    sleep "$(seconds_until_next_run)"
    # A separate process, so errexit applies inside it and one failed night does not stop the next.
    "$0" || echo "backup: FAILED at $(date), see the lines above" >&2
  done
fi

if [ "${1:-}" = "--pre-restore" ]; then
  backup_once pre-restore
  exit 0
fi

case "$keep" in '' | *[!0-9]* | 0) echo "backup: BACKUP_KEEP must be a whole number ≥ 1, not '$keep'" >&2; exit 2 ;; esac
backup_once sto
rotate
