#!/usr/bin/env bash
# beat: Celery's scheduler. The schedule lives in the database (django-celery-beat, editable in
# admin), so no schedule file; run exactly one of these. config.beat.HeartbeatScheduler is
# django-celery-beat's DatabaseScheduler that also touches $HEARTBEAT_FILE on every tick, for the
# container's healthcheck (deploy/healthcheck.py beat).
set -o errexit -o pipefail -o nounset

# A heartbeat from before a restart must not vouch for this process.
rm -f "${HEARTBEAT_FILE:-/nonexistent}"
# --pidfile '': no pid file (the code directory is read-only for the app user; Docker tracks the process).
exec celery -A config beat --loglevel INFO \
  --scheduler config.beat:HeartbeatScheduler \
  --pidfile ''
