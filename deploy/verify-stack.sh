#!/usr/bin/env bash
# Prove the compose stack works, on this machine, in a throwaway project beside any real one:
#
#   deploy/verify-stack.sh
#
# 1. `docker compose config` accepts the files; the image builds.
# 2. The stack comes up and every service is running, and healthy where it has a healthcheck;
#    the one-shot migrate finished with 0; exactly one beat runs.
# 3. Through the web service's published port: /healthz answers, the admin login page answers over
#    the proxy's https header, a hashed static file is served with a far-future cache header,
#    plain http redirects to https, an unknown Host is refused; a superuser made with
#    `docker compose exec web python manage.py createsuperuser` logs into the admin.
# 4. `docker compose exec web python manage.py check --deploy` passes (warnings count as failures).
# 5. The worker runs a task sent from web through Redis.
#    TODO(issue 4): the worker sends a notification (outbox row -> Telegram / e-mail).
# 6. Data written through the engine (a booking), a media file and a Redis key survive a restart
#    of every service, and `down` + `up` (new containers, same volumes).
# 7. A backup taken with the backup service and restored with deploy/restore-stack.sh brings back
#    exactly the data of that moment.
#
# The project is "sto-verify" on 127.0.0.1:18000 with generated secrets and its own image tag
# (sto-booking:verify), so a production stack on the same host is not touched; it is removed with
# its volumes at the end (VERIFY_KEEP=1 keeps it).
# Knobs: COMPOSE_FILE (e.g. docker-compose.yml:deploy/images/compose.sandbox.yml where there is no
# Docker Hub), VERIFY_PROJECT, VERIFY_WEB_PORT, VERIFY_NO_BUILD=1, VERIFY_KEEP=1.
# The bot is started only when `manage.py runbot` exists and TELEGRAM_BOT_TOKEN is set in this
# shell (with TELEGRAM_API_URL for a test Bot API server); otherwise it is skipped, and said so.
set -o errexit -o pipefail -o nounset
cd "$(dirname "$0")/.."

project=${VERIFY_PROJECT:-sto-verify}
port=${VERIFY_WEB_PORT:-18000}
host=verify.sto.invalid
work=$(mktemp -d)
export COMPOSE_PROJECT_NAME=$project COMPOSE_ENV_FILES=$work/verify.env

random_hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }
cat > "$COMPOSE_ENV_FILES" <<EOF
POSTGRES_PASSWORD=$(random_hex 16)
SECRET_KEY=$(random_hex 32)
ALLOWED_HOSTS=$host
WEB_PORT=$port
BOT_WEBHOOK_PORT=$((port + 1))
BACKUP_DIR=$work/backups
APP_IMAGE=sto-booking:verify
TELEGRAM_BOT_TOKEN=${TELEGRAM_BOT_TOKEN:-}
TELEGRAM_API_URL=${TELEGRAM_API_URL:-https://api.telegram.org/bot}
EOF
mkdir -p "$work/backups"

step() { printf '\n== %s\n' "$*"; }
ok() { printf '   ok: %s\n' "$*"; }
fail() { printf '   FAIL: %s\n' "$*" >&2; exit 1; }

finish() {
  local status=$?
  if [ "$status" != 0 ]; then
    echo "verify-stack: FAILED; the last log lines of each service:" >&2
    docker compose ps --all >&2 || true
    docker compose logs --no-color --tail 30 >&2 || true
  fi
  if [ -n "${VERIFY_KEEP:-}" ]; then
    echo "verify-stack: kept project $project (env file $COMPOSE_ENV_FILES); remove with: COMPOSE_PROJECT_NAME=$project docker compose down --volumes"
  else
    # The dumps belong to the backup container's user: remove them from a container.
    docker compose run --rm --no-deps --entrypoint sh backup -c 'rm -rf /backups/* /backups/.sto-*' > /dev/null 2>&1 || true
    docker compose down --volumes --remove-orphans --timeout 20 > /dev/null 2>&1 || true
    rm -rf "$work" 2> /dev/null || true
  fi
  exit "$status"
}
trap finish EXIT

# Python run inside the web container by `manage.py shell`; prints what it found.
in_web() { docker compose exec -T web python manage.py shell --no-imports -c "$1"; }

services=(postgres redis migrate web worker beat backup)
if [ -f botapp/management/commands/runbot.py ] && [ -n "${TELEGRAM_BOT_TOKEN:-}" ]; then
  services+=(bot)
else
  echo "verify-stack: SKIPPING the bot (needs botapp's runbot command and TELEGRAM_BOT_TOKEN in this shell)"
fi

step "compose config and build"
docker compose config --quiet && ok "docker compose config"
if [ -z "${VERIFY_NO_BUILD:-}" ]; then
  docker compose build --quiet "${services[@]}" && ok "images built"
fi

step "up: ${services[*]}"
up() {
  local started=$SECONDS
  docker compose up --detach --wait --wait-timeout 300 "${services[@]}" > /dev/null
  ok "healthy $((SECONDS - started)) s after \`up\`"
}
check_health() {
  local service id state health
  for service in "${services[@]}"; do
    for id in $(docker compose ps --all --quiet "$service"); do
      state=$(docker inspect --format '{{.State.Status}} {{.State.ExitCode}}' "$id")
      health=$(docker inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$id")
      if [ "$service" = migrate ]; then
        [ "$state" = "exited 0" ] || fail "migrate: $state"
      else
        [ "${state%% *}" = running ] || fail "$service: $state"
        [ -z "$health" ] || [ "$health" = healthy ] || fail "$service: $health"
      fi
      printf '   %-8s %s %s\n' "$service" "${state%% *}" "$health"
    done
  done
  [ "$(docker compose ps --quiet beat | wc -l)" = 1 ] || fail "not exactly one beat"
  ok "all services up, exactly one beat"
}
up
check_health

step "web through its published port"
base=http://127.0.0.1:$port
code() { curl --silent --output /dev/null --write-out '%{http_code}' "$@"; }
[ "$(curl --silent --fail -H "Host: $host" "$base/healthz")" = ok ] && ok "/healthz answers ok over plain http"
login=$(curl --silent --fail -H "Host: $host" -H "X-Forwarded-Proto: https" "$base/admin/login/")
grep -q 'name="username"' <<< "$login" || fail "admin login page has no login form"
ok "admin login page answers (https via X-Forwarded-Proto)"
static=$(grep -o '/static/[^"]*\.[0-9a-f]\{12\}\.css' <<< "$login" | head -n 1)
[ -n "$static" ] || fail "the login page links no hashed static file"
headers=$(curl --silent --fail --dump-header - --output /dev/null -H "Host: $host" -H "X-Forwarded-Proto: https" "$base$static")
grep -qi '^cache-control:.*immutable' <<< "$headers" || fail "static file without a far-future cache header"
ok "static file $static served by whitenoise, cached for good"
[ "$(code -H "Host: $host" "$base/admin/login/")" = 301 ] && ok "plain http redirects to https"

password=$(random_hex 16)
docker compose exec -T -e DJANGO_SUPERUSER_PASSWORD="$password" web \
  python manage.py createsuperuser --noinput --username verify --email verify@example.invalid > /dev/null
ok "createsuperuser through docker compose exec"
# curl keeps Secure cookies to https URLs, and this is plain http behind a pretend proxy: carry them by hand.
csrf=$(curl --silent --fail --dump-header - --output /dev/null -H "Host: $host" -H "X-Forwarded-Proto: https" "$base/admin/login/" |
  sed -n 's/^[Ss]et-[Cc]ookie: csrftoken=\([^;]*\).*/\1/p')
session=$(curl --silent --dump-header - --output /dev/null -H "Host: $host" -H "X-Forwarded-Proto: https" \
  -H "Cookie: csrftoken=$csrf" -H "Origin: https://$host" \
  --data-urlencode "csrfmiddlewaretoken=$csrf" --data-urlencode "username=verify" --data-urlencode "password=$password" \
  --data-urlencode "next=/admin/" "$base/admin/login/" | sed -n 's/^[Ss]et-[Cc]ookie: sessionid=\([^;]*\).*/\1/p')
[ -n "$session" ] || fail "admin login did not start a session"
[ "$(code -H "Host: $host" -H "X-Forwarded-Proto: https" -H "Cookie: sessionid=$session" "$base/admin/")" = 200 ] \
  || fail "the admin index does not open after login"
ok "admin login through web: the session opens the admin index"
[ "$(code -H "Host: attacker.invalid" -H "X-Forwarded-Proto: https" "$base/admin/login/")" = 400 ] && ok "unknown Host refused"

step "manage.py check --deploy"
docker compose exec -T web python manage.py check --deploy --fail-level WARNING && ok "no issues, warnings included"

step "worker runs a task sent from web"
task_id=$(in_web "from config.celery import app; print(app.send_task('celery.backend_cleanup').id)")
for _ in $(seq 1 30); do
  docker compose logs --no-color worker | grep -q "$task_id.*succeeded" && break
  sleep 1
done
docker compose logs --no-color worker | grep -q "$task_id.*succeeded" || fail "task $task_id not run by the worker"
ok "task $task_id went web -> redis -> worker"
echo "   TODO(issue 4): check that the worker sends a notification"

step "create data: a booking through the engine, a media file, a Redis key"
in_web "
from datetime import time
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from bookings.availability import slots_available
from bookings.models import BookingChannel
from bookings.services import booking_create
from clients.services import client_get_or_create_by_phone
from workshops.models import Bay, Service, Workshop, WorkingHours
workshop = Workshop.objects.create(name='Проверка стека', slug='verify-stack', timezone='Europe/Moscow')
for weekday in range(7):
    WorkingHours.objects.create(workshop=workshop, weekday=weekday, opens_at=time(8), closes_at=time(20))
Bay.objects.create(workshop=workshop, name='Пост 1')
service = Service.objects.create(name='Диагностика', duration_minutes=30, bay_kind='')
service.workshops.add(workshop)
client, _ = client_get_or_create_by_phone(phone='+7 912 000-00-01', name='Проверка Стека', workshop=workshop)
slot = slots_available(workshop=workshop, service=service)[0]
booking = booking_create(workshop=workshop, service=service, client=client, starts_at=slot.starts_at, channel=BookingChannel.PHONE)
default_storage.save('verify-stack.txt', ContentFile(b'kept'))
cache.set('verify-stack', 'kept', timeout=None)
print('created booking', booking.pk)
"

count_bookings() { in_web "from bookings.models import Booking; print(Booking.objects.filter(workshop__slug='verify-stack').count())"; }
check_data() {
  local bookings
  bookings=$(count_bookings)
  [ "$bookings" = "$1" ] || fail "$bookings bookings after $2, expected $1"
  [ "$(in_web "from django.core.files.storage import default_storage; print(default_storage.open('verify-stack.txt').read().decode())")" = kept ] \
    || fail "media file lost after $2"
  [ "$(in_web "from django.core.cache import cache; print(cache.get('verify-stack'))")" = kept ] || fail "Redis key lost after $2"
  ok "$1 booking(s), the media file and the Redis key are there after $2"
}
check_data 1 "creation"

step "restart every service"
docker compose restart > /dev/null
up
check_health
check_data 1 "docker compose restart"

step "down and up again (new containers, same volumes)"
docker compose down --timeout 20 > /dev/null
up
check_health
check_data 1 "down + up"

step "backup, then restore it with deploy/restore-stack.sh"
docker compose run --rm --no-deps --entrypoint /deploy/backup.sh backup
dump=$(find "$work/backups" -maxdepth 1 -name 'sto-*.dump' | sort | tail -n 1)
[ -n "$dump" ] || fail "no dump written"
ok "dump $dump"
in_web "
from bookings.availability import slots_available
from bookings.models import Booking, BookingChannel
from bookings.services import booking_create
first = Booking.objects.get(workshop__slug='verify-stack')
slot = slots_available(workshop=first.workshop, service=first.service)[0]
booking_create(workshop=first.workshop, service=first.service, client=first.client, starts_at=slot.starts_at, channel=BookingChannel.PHONE)
"
[ "$(count_bookings)" = 2 ] || fail "the second booking was not written"
ok "a second booking written after the backup"
deploy/restore-stack.sh --yes "$dump"
check_health
check_data 1 "restoring the backup taken before the second booking"
docker compose exec -T web python manage.py migrate --check > /dev/null && ok "migrate --check: nothing to apply after the restore"

echo
echo "verify-stack: ALL CHECKS PASSED"
