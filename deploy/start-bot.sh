#!/usr/bin/env bash
# bot: python-telegram-bot. Polling by default; webhook mode when TELEGRAM_WEBHOOK_URL is set.
set -o errexit -o pipefail -o nounset

if [ -n "${TELEGRAM_WEBHOOK_URL:-}" ]; then
  exec python manage.py runbot --webhook
fi
exec python manage.py runbot
