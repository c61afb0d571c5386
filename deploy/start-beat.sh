#!/usr/bin/env bash
# beat: Celery's scheduler. The schedule lives in the database (django-celery-beat, editable in
# admin), so no schedule file; run exactly one of these.
set -o errexit -o pipefail -o nounset

# --pidfile '': no pid file (the code directory is read-only for the app user; Docker tracks the process).
exec celery -A config beat --loglevel INFO \
  --scheduler django_celery_beat.schedulers:DatabaseScheduler \
  --pidfile ''
