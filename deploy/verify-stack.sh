#!/usr/bin/env bash
# Prove the compose stack works, on this machine, in a throwaway project beside any real one:
#
#   deploy/verify-stack.sh
#
# 1. `docker compose config` accepts the files; the images build.
# 2. The stack comes up and every service (postgres, redis, migrate, web, bot, worker, beat,
#    backup) is running, and healthy where it has a healthcheck; the one-shot migrate finished
#    with 0; exactly one beat runs.
# 3. Through the web service's published port: /healthz answers, the admin login page answers over
#    the proxy's https header, a hashed static file is served with a far-future cache header,
#    plain http redirects to https, an unknown Host is refused; a superuser made with
#    `docker compose exec web python manage.py createsuperuser` logs into the admin.
# 4. `docker compose exec web python manage.py check --deploy` passes (warnings count as failures).
# 5. The worker runs a task sent from web through Redis. The bot answers /start.
# 6. A booking made through the engine (`manage.py shell` in web) for a branch with a manager
#    Telegram chat and a manager e-mail: the worker delivers both notifications (the stand-in
#    received them, the outbox rows are marked sent).
# 7. With the worker stopped, a booking queues its notifications; then every service restarts
#    (`docker compose restart`, later `down` + `up`: new containers, same volumes). The bookings,
#    clients, a media file and a Redis key are all still there, and the queued notifications are
#    delivered after the restart.
# 8. A backup taken with the backup service and restored with deploy/restore-stack.sh brings back
#    exactly the data and the media files of that moment; the dump restored is still in the folder
#    beside the pre-restore safety copy.
#
# Telegram and the mail server are stood in for by deploy/verify/standin.py (the `standin` service
# of deploy/verify/compose.verify.yml, added here to COMPOSE_FILE): the bot gets a made-up token and
# TELEGRAM_API_URL / EMAIL_URL point at the stand-in, so nothing leaves the machine.
# The project is "sto-verify" on 127.0.0.1:18000 with generated secrets and its own image tag
# (sto-booking:verify), so a production stack on the same host is not touched; it is removed with
# its volumes at the end (VERIFY_KEEP=1 keeps it).
# Knobs: COMPOSE_FILE (e.g. docker-compose.yml:deploy/images/compose.sandbox.yml where there is no
# Docker Hub), VERIFY_PROJECT, VERIFY_WEB_PORT, VERIFY_NO_BUILD=1, VERIFY_KEEP=1; nothing else from the
# calling shell reaches compose (see below).
set -o errexit -o pipefail -o nounset

# Compose takes a variable from the shell before the env file: a DATABASE_URL or EMAIL_URL exported
# here (a developer's shell, a test run) would reach the throwaway stack. Start again with only
# what Docker and this script need; restore-stack.sh, run from here, inherits the same.
if [ -z "${VERIFY_CLEAN_ENV:-}" ]; then
  keep=(VERIFY_CLEAN_ENV=1)
  for name in PATH HOME TMPDIR DOCKER_HOST DOCKER_CONFIG DOCKER_CONTEXT DOCKER_CERT_PATH DOCKER_TLS_VERIFY \
    COMPOSE_FILE VERIFY_PROJECT VERIFY_WEB_PORT VERIFY_NO_BUILD VERIFY_KEEP; do
    if [ -n "${!name+set}" ]; then keep+=("$name=${!name}"); fi
  done
  exec env -i "${keep[@]}" bash "$0" "$@"
fi
cd "$(dirname "$0")/.."

project=${VERIFY_PROJECT:-sto-verify}
port=${VERIFY_WEB_PORT:-18000}
host=verify.sto.invalid
work=$(mktemp -d)
export COMPOSE_PROJECT_NAME=$project COMPOSE_ENV_FILES=$work/verify.env
export COMPOSE_FILE=${COMPOSE_FILE:-docker-compose.yml}:deploy/verify/compose.verify.yml

random_hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }
cat > "$COMPOSE_ENV_FILES" <<EOF
POSTGRES_PASSWORD=$(random_hex 16)
SECRET_KEY=$(random_hex 32)
ALLOWED_HOSTS=$host
WEB_PORT=$port
BOT_WEBHOOK_PORT=$((port + 1))
BACKUP_DIR=$work/backups
APP_IMAGE=sto-booking:verify
TELEGRAM_BOT_TOKEN=7000000001:$(random_hex 16)
TELEGRAM_API_URL=http://standin:8081/bot
EMAIL_URL=smtp://standin:2525
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
    docker compose run --rm --no-deps --entrypoint sh backup -c 'rm -rf /backups/* /backups/.sto-* /backups/.pre-restore-*' > /dev/null 2>&1 || true
    docker compose down --volumes --remove-orphans --timeout 20 > /dev/null 2>&1 || true
    rm -rf "$work" 2> /dev/null || true
  fi
  exit "$status"
}
trap finish EXIT

# Python run inside the web container by `manage.py shell`; prints what it found.
in_web() { docker compose exec -T web python manage.py shell --no-imports -c "$1"; }

services=(postgres redis migrate web bot worker beat backup standin)
# What the stand-in received so far, one "telegram CHAT" / "email ADDRESS" line per message holding $1.
received() { docker compose exec -T standin python /standin/standin.py received "${1:-}"; }

step "compose config and build"
docker compose config --quiet && ok "docker compose config"
timings=()
if [ -z "${VERIFY_NO_BUILD:-}" ]; then
  started=$SECONDS
  # The classic builder (no buildx) prints every step: into a file, shown only when it fails.
  docker compose build "${services[@]}" > "$work/build.log" 2>&1 || { tail -n 40 "$work/build.log" >&2; fail "build"; }
  ok "images built in $((SECONDS - started)) s"
  timings+=("build $((SECONDS - started)) s")
fi

step "up: ${services[*]}"
up() {
  local started=$SECONDS
  docker compose --progress quiet up --detach --wait --wait-timeout 300 "${services[@]}" > /dev/null
  ok "healthy $((SECONDS - started)) s after \`up\`"
  timings+=("healthy after $1: $((SECONDS - started)) s")
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
# From nothing: the one-shot migrate ran (and finished) before any app process started, and it
# left nothing to migrate; static files come with the image (collected by the Dockerfile).
check_order() {
  local migrated started service
  migrated=$(date -d "$(docker inspect --format '{{.State.FinishedAt}}' "$(docker compose ps --all --quiet migrate)")" +%s%N)
  for service in web bot worker beat; do
    started=$(date -d "$(docker inspect --format '{{.State.StartedAt}}' "$(docker compose ps --quiet "$service")")" +%s%N)
    [ "$started" -gt "$migrated" ] || fail "$service started before migrate finished"
  done
  docker compose exec -T web python manage.py migrate --check > /dev/null || fail "migrations left to apply"
  ok "migrate finished before web, bot, worker and beat started; no migration left to apply"
}
up "the first up"
check_health
check_order

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

# A private chat with the bot, through the stand-in's getUpdates: /start gets an answer.
bot_answers() {
  local user=$1 before
  before=$(received | grep -c "^telegram $user\$" || true)
  docker compose exec -T standin python /standin/standin.py say "$user" /start
  for _ in $(seq 1 30); do
    [ "$(received | grep -c "^telegram $user\$" || true)" -gt "$before" ] && break
    sleep 1
  done
  [ "$(received | grep -c "^telegram $user\$" || true)" -gt "$before" ] || fail "the bot did not answer /start ($2)"
  ok "the bot answers /start ($2)"
}
step "bot"
bot_answers 555000001 "through the Bot API stand-in"
# Its healthcheck follows the Bot API: with the stand-in frozen no getUpdates is answered, the
# heartbeat file ages, and the check (here with a 15 s limit instead of 60 s) fails until it is back.
docker compose --progress quiet pause standin > /dev/null
sleep 20
if docker compose exec -T -e HEARTBEAT_MAX_AGE=15 bot python /app/deploy/healthcheck.py bot; then
  fail "the bot's healthcheck passed while the Bot API was unreachable"
fi
docker compose --progress quiet unpause standin > /dev/null
for _ in $(seq 1 30); do
  docker compose exec -T -e HEARTBEAT_MAX_AGE=15 bot python /app/deploy/healthcheck.py bot 2> /dev/null && break
  sleep 1
done
docker compose exec -T -e HEARTBEAT_MAX_AGE=15 bot python /app/deploy/healthcheck.py bot \
  || fail "the bot's healthcheck did not recover with the Bot API back"
ok "the bot's healthcheck fails while the Bot API does not answer, and recovers when it does"

# The two other ways the bot service runs, each in a one-off container beside the real bot:
# webhook mode (healthy once PTB's web server listens on :8081) and no token (idles, healthy, says why).
bot_variant() {
  local id
  id=$(docker compose --progress quiet run --detach --no-deps "$@" bot)
  for _ in $(seq 1 30); do
    docker exec "$id" python /app/deploy/healthcheck.py bot 2> /dev/null && break
    sleep 1
  done
  docker exec "$id" python /app/deploy/healthcheck.py bot || { docker logs "$id"; docker rm --force "$id" > /dev/null; return 1; }
  [ "$(docker inspect --format '{{.State.Status}}' "$id")" = running ] || { docker rm --force "$id" > /dev/null; return 1; }
  docker logs "$id" 2>&1 | head -n 1
  docker rm --force "$id" > /dev/null
}
bot_variant -e TELEGRAM_WEBHOOK_URL=https://$host/telegram/ -e TELEGRAM_WEBHOOK_SECRET="$(random_hex 16)" \
  | grep -q "^Bot: webhook on 0.0.0.0:8081" || fail "the bot in webhook mode"
ok "webhook mode: the bot serves :8081 and its healthcheck passes"
bot_variant -e TELEGRAM_BOT_TOKEN= | grep -q "^bot: TELEGRAM_BOT_TOKEN пуст, бот выключен" || fail "the bot without a token"
ok "without a token the bot stays off, says why, and does not restart in a loop"

step "create data: a branch with managers to notify, a media file, a Redis key"
manager_chat=-1009000000001
manager_email=manager@verify.sto.invalid
in_web "
from datetime import time
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from workshops.models import Bay, Service, Workshop, WorkingHours
workshop = Workshop.objects.create(name='Проверка стека', slug='verify-stack', timezone='Europe/Moscow',
                                   manager_telegram_chat_id=$manager_chat, manager_emails='$manager_email')
for weekday in range(7):
    WorkingHours.objects.create(workshop=workshop, weekday=weekday, opens_at=time(8), closes_at=time(20))
Bay.objects.create(workshop=workshop, name='Пост 1')
service = Service.objects.create(name='Диагностика', duration_minutes=30, bay_kind='')
service.workshops.add(workshop)
default_storage.save('verify-stack.txt', ContentFile(b'kept'))
cache.set('verify-stack', 'kept', timeout=None)
"
ok "branch with manager chat $manager_chat and $manager_email"

# Client number $1 books the first free slot through the engine, as a phone call to the desk would.
book() {
  in_web "
from bookings.availability import slots_available
from bookings.models import BookingChannel
from bookings.services import booking_create
from clients.services import client_get_or_create_by_phone
from workshops.models import Service, Workshop
workshop = Workshop.objects.get(slug='verify-stack')
service = Service.objects.get(name='Диагностика')
client, _ = client_get_or_create_by_phone(phone='+7 912 000-00-0$1', name='Проверка Стека $1', workshop=workshop)
slot = slots_available(workshop=workshop, service=service)[0]
booking = booking_create(workshop=workshop, service=service, client=client, starts_at=slot.starts_at, channel=BookingChannel.PHONE)
print(booking.pk)
"
}
# The states of client $1's outbox rows (one per manager channel), sorted: "pending pending", "sent sent".
outbox_states() {
  in_web "from bookings.models import Notification
print(' '.join(sorted(Notification.objects.filter(booking__client__name='Проверка Стека $1').values_list('state', flat=True))))"
}
# The worker delivered client $1's booking to the managers: outbox rows sent, both messages in the stand-in.
delivered() {
  local got=""
  for _ in $(seq 1 60); do
    got=$(received "Клиент: Проверка Стека $1" | sort | tr '\n' ' ')
    [ "$got" = "email $manager_email telegram $manager_chat " ] && [ "$(outbox_states "$1")" = "sent sent" ] && break
    sleep 1
  done
  [ "$got" = "email $manager_email telegram $manager_chat " ] || fail "booking $1 ($2): the stand-in received [$got]"
  [ "$(outbox_states "$1")" = "sent sent" ] || fail "booking $1 ($2): outbox rows $(outbox_states "$1")"
  ok "booking $1 ($2): the managers' Telegram message and e-mail delivered, outbox rows sent"
}
# With the worker stopped, book for client $1: its notifications wait in the outbox and the queue.
book_with_worker_stopped() {
  local queued
  docker compose --progress quiet stop worker > /dev/null
  book "$1" > /dev/null
  [ "$(outbox_states "$1")" = "pending pending" ] || fail "booking $1: outbox rows $(outbox_states "$1"), expected pending"
  queued=$(docker compose exec -T redis redis-cli llen celery | tr -d '\r')
  [ "$queued" -ge 2 ] || fail "booking $1: $queued message(s) in the Celery queue, expected its 2 sends"
  ok "booking $1 made with the worker stopped: 2 outbox rows pending, $queued message(s) queued in Redis"
}

count() {
  in_web "from bookings.models import Booking; from clients.models import Client
print(Booking.objects.filter(workshop__slug='verify-stack').count(), Client.objects.filter(name__startswith='Проверка Стека').count())"
}
check_data() {
  local counts
  counts=$(count)
  [ "$counts" = "$1 $1" ] || fail "bookings and clients after $2: $counts, expected $1 $1"
  [ "$(in_web "from django.core.files.storage import default_storage; print(default_storage.open('verify-stack.txt').read().decode())")" = kept ] \
    || fail "media file lost after $2"
  [ "$(in_web "from django.core.cache import cache; print(cache.get('verify-stack'))")" = kept ] || fail "Redis key lost after $2"
  ok "$1 booking(s) and client(s), the media file and the Redis key are there after $2"
}

step "the worker sends a notification"
ok "booking 1 (id $(book 1)) made through the engine"
delivered 1 "made with everything running"
check_data 1 "creation"

step "import a client file with manage.py import_clients, as the README says"
in_web "
from workshops.models import Bay, Workshop
Bay.objects.create(workshop=Workshop.objects.create(name='Проверка импорта', slug='verify-import'), name='Пост 1')"
printf '%s\n' 'ФИО;Телефон;Автомобиль;Госномер;VIN;Дата последнего визита' \
  'Импорт Первый;8 (912) 555-01-01;Lada Vesta;А101АА77;XTA21099043012345;10.01.2024' \
  'Импорт Второй;+7 912 555 01 02;Kia Rio;В202ВВ96;;11.02.2024' \
  'Импорт Второй;89125550102;Kia Rio;В202ВВ96;;12.03.2024' \
  'Плохой Телефон;12-34-56;;;;' | iconv -f UTF-8 -t CP1251 > "$work/clients.csv"
docker compose cp "$work/clients.csv" web:/tmp/verify-clients.csv > /dev/null
imported=$(docker compose exec -T web python manage.py import_clients /tmp/verify-clients.csv --workshop verify-import)
grep -q "Отклонено: 1\." <<< "$imported" || fail "import_clients printed: $imported"
# The stack's database user may turn per-row foreign-key checks off (the fast import path), and
# every reference the import wrote must still exist.
[ "$(in_web "
from django.db import connection, transaction
from bookings.models import Booking
from workshops.db import foreign_key_checks_skipped
with transaction.atomic(), connection.cursor() as cursor, foreign_key_checks_skipped(cursor) as skipped:
    pass
cursor = connection.cursor()
cursor.execute('SELECT count(*) FROM bookings_booking b WHERE NOT EXISTS (SELECT 1 FROM clients_client c WHERE c.id = b.client_id) '
               'OR (b.vehicle_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM clients_vehicle v WHERE v.id = b.vehicle_id))')
print(skipped, cursor.fetchone()[0], Booking.objects.filter(workshop__slug='verify-import', channel='import').count())")" \
  = "True 0 3" ] || fail "the import's visits or the database user's rights"
ok "2 clients and 3 visits imported, 1 row rejected; the fast path is on and nothing refers to a missing row"

step "restart every service, with a notification queued"
book_with_worker_stopped 2
docker compose --progress quiet restart > /dev/null
up "restart"
check_health
check_data 2 "docker compose restart"
delivered 2 "queued before the restart"
bot_answers 555000002 "after the restart"

step "down and up again (new containers, same volumes), with a notification queued"
book_with_worker_stopped 3
docker compose --progress quiet down --timeout 20 > /dev/null
up "down + up"
check_health
check_order
check_data 3 "down + up"
delivered 3 "queued before down + up"
bot_answers 555000003 "after down + up"

step "backup, then restore it with deploy/restore-stack.sh"
docker compose --progress quiet run --rm --no-deps --entrypoint /deploy/backup.sh backup
dump=$(find "$work/backups" -maxdepth 1 -name 'sto-*.dump' | sort | tail -n 1)
[ -n "$dump" ] || fail "no dump written"
[ -f "${dump%.dump}.media.tar.gz" ] || fail "no media archive beside $dump"
ok "dump $dump and its media archive"
book 4 > /dev/null
[ "$(count)" = "4 4" ] || fail "the fourth booking was not written"
in_web "from django.core.files.base import ContentFile; from django.core.files.storage import default_storage
default_storage.save('after-backup.txt', ContentFile(b'newer'))" > /dev/null
ok "a fourth booking and a media file written after the backup"
deploy/restore-stack.sh --yes "$dump"
check_health
check_data 3 "restoring the backup taken before the fourth booking"
[ "$(in_web "from django.core.files.storage import default_storage; print(default_storage.exists('after-backup.txt'))")" = False ] \
  || fail "the media file written after the backup is still there"
[ -f "$dump" ] && [ -n "$(find "$work/backups" -maxdepth 1 -name 'pre-restore-*.dump')" ] \
  || fail "the restored dump or the pre-restore copy is missing from $work/backups"
ok "media as at the backup; the restored dump kept beside the pre-restore copy"
docker compose exec -T web python manage.py migrate --check > /dev/null && ok "migrate --check: nothing to apply after the restore"

echo
printf -v summary '%s; ' "${timings[@]}"
echo "verify-stack: timings: ${summary}the whole run $SECONDS s"
echo "verify-stack: ALL CHECKS PASSED"
