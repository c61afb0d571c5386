#!/usr/bin/env bash
# worker: Celery, sends the notification outbox (Telegram, e-mail) and runs imports.
set -o errexit -o pipefail -o nounset

exec celery -A config worker --loglevel INFO --concurrency "${CELERY_CONCURRENCY:-2}"
