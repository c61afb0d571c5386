#!/usr/bin/env bash
# web: gunicorn serving Django (admin, static files through whitenoise, /healthz) on :8000.
# TLS is terminated by the reverse proxy in front; it must send X-Forwarded-Proto.
set -o errexit -o pipefail -o nounset

# --worker-tmp-dir: heartbeat files in memory, not on the container's overlay disk.
# --no-control-socket: nothing uses it, and $HOME (/app) is read-only for the app user.
# Access log: the client's address as the proxy saw it (X-Forwarded-For), not the Docker gateway's;
# the path without its query string, where admin searches put clients' phones and names (?q=…).
exec gunicorn config.wsgi:application \
  --bind 0.0.0.0:8000 \
  --workers "${WEB_CONCURRENCY:-2}" \
  --timeout 60 \
  --max-requests 2000 --max-requests-jitter 200 \
  --worker-tmp-dir /dev/shm \
  --no-control-socket \
  --access-logfile - \
  --access-logformat '%({x-forwarded-for}i)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms "%(a)s"' \
  --error-logfile -
