#!/usr/bin/env bash
# SANDBOX ONLY (see the Dockerfile): redis-server runs as the redis user, with /data its own.
set -o errexit -o pipefail -o nounset

if [ "${1:-}" = "redis-server" ] && [ "$(id -u)" = "0" ]; then
  chown -R redis:redis /data
  exec setpriv --reuid=redis --regid=redis --init-groups "$@"
fi
exec "$@"
