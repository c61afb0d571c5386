#!/usr/bin/env bash
# bot: python-telegram-bot. Polling by default; webhook mode when TELEGRAM_WEBHOOK_URL is set.
# Without TELEGRAM_BOT_TOKEN the bot stays off (and the container idles, healthy) instead of
# restarting in a loop: an install may start without Telegram and get a token later.
set -o errexit -o pipefail -o nounset

if [ -z "${TELEGRAM_BOT_TOKEN:-}" ]; then
  echo "bot: TELEGRAM_BOT_TOKEN пуст, бот выключен (укажите токен в .env и выполните: docker compose up -d bot)"
  exec sleep infinity
fi
# A heartbeat from before a restart must not vouch for this process (deploy/healthcheck.py).
rm -f "${HEARTBEAT_FILE:-/nonexistent}"
if [ -n "${TELEGRAM_WEBHOOK_URL:-}" ]; then
  exec python manage.py runbot --webhook
fi
exec python manage.py runbot
