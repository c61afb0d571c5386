"""Benchmark: dispatch 3,000 due reminders to 3,000 clients through the local Bot API server.

A real Celery worker process (prefork, concurrency 2, as in production) sends through
``tests.botapi.BotApiServer(enforce_limits=True)``, which answers 429 the moment the bot
exceeds Telegram's limits. Measured: messages per second against the 30/s ceiling
(target ≥ 27/s sustained), 429s provoked (target 0), duplicates (must be 0), and the
worker's peak memory.

Run alone: ``.venv/bin/python -m benchmarks.bench_notify`` (database from
``BENCH_DATABASE_URL``, default ``postgres://postgres@127.0.0.1:5432/sto_bench_notify``,
created and migrated). Redis: a private ``redis-server`` on a free port when the binary
is installed, else ``REDIS_URL`` of the settings.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

REMINDERS = 3000
BAYS = 150
POOL = os.environ.get("BENCH_NOTIFY_POOL", "prefork")
CONCURRENCY = int(os.environ.get("BENCH_NOTIFY_CONCURRENCY", "2"))
TIMEOUT_SECONDS = 600
TELEGRAM_CEILING = 30.0
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/sto_bench_notify"


def _setup_django() -> str:
    """Configure Django on the benchmark's own database (created and migrated); return its URL."""
    try:
        from benchmarks import _db  # the shared helper, when the benchmark runner is present
    except ImportError:
        _db = None
    if _db is not None and hasattr(_db, "setup_django"):
        return _db.setup_django("notify")
    import django
    import psycopg
    from psycopg import sql

    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    server, name = url.rsplit("/", 1)
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    # This process exists only for the benchmark: the settings module reads the environment.
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    for key, value in {"SECRET_KEY": "bench-secret-key", "DEBUG": "0", "ALLOWED_HOSTS": "localhost",
                       "SECURE_SSL_REDIRECT": "0", "EMAIL_URL": "consolemail://", "LOG_LEVEL": "WARNING"}.items():
        os.environ.setdefault(key, value)
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    return url


def _empty_tables() -> None:
    from django.db import connection

    from bookings.models import Booking, BookingHistory, Notification
    from clients.models import Client, ClientPhone
    from workshops.models import Bay, Workshop

    tables = [m._meta.db_table for m in (Notification, BookingHistory, Booking, ClientPhone, Client, Bay, Workshop)]
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")


def _fill(now) -> None:
    """One branch, 150 bays, 3,000 clients in Telegram, each with a visit 2–22 h ahead booked days ago."""
    from bookings.models import Booking, BookingChannel, BookingStatus
    from clients.models import Client, ClientPhone
    from workshops.models import Bay, Service, Workshop

    branch = Workshop.objects.create(name="СТО Бенчмарк", slug="bench", reminder_offsets_hours="24, 2")
    bays = Bay.objects.bulk_create([Bay(workshop=branch, name=f"Пост {n}") for n in range(BAYS)])
    service = Service.objects.create(name="Замена масла", duration_minutes=60)
    service.workshops.add(branch)
    clients = Client.objects.bulk_create(
        [Client(name=f"Клиент {n}", telegram_user_id=100_000_000 + n) for n in range(REMINDERS)]
    )
    ClientPhone.objects.bulk_create(
        [ClientPhone(client=c, number=f"+7912{n:07d}") for n, c in enumerate(clients)]
    )
    first = now + timedelta(hours=2, minutes=30)
    Booking.objects.bulk_create([
        Booking(
            workshop=branch, bay=bays[n % BAYS], service=service, client=client, channel=BookingChannel.TELEGRAM,
            status=BookingStatus.NEW, starts_at=first + timedelta(hours=n // BAYS),
            ends_at=first + timedelta(hours=n // BAYS + 1),
        )
        for n, client in enumerate(clients)
    ], batch_size=1000)
    Booking.objects.update(created_at=now - timedelta(days=3))  # booked long before the 24 h reminder


def _process_group_peak_kib(pgid: int) -> list[int]:
    """VmHWM (peak resident memory, KiB) of every live process in process group ``pgid``."""
    peaks = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[2]) != pgid:
                continue
            for line in (proc / "status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]))
        except (OSError, ValueError, IndexError):
            continue
    return peaks


def _sustained_floor(times: list[float], window: float = 10.0) -> float:
    """The lowest rate over consecutive full ``window``-second windows of the send."""
    if not times or times[-1] - times[0] < window:
        return (len(times) - 1) / max(times[-1] - times[0], 1e-9) if len(times) > 1 else 0.0
    rates, start = [], times[0]
    while start + window <= times[-1]:
        rates.append(sum(1 for t in times if start <= t < start + window) / window)
        start += window
    return min(rates)


def _row(benchmark, value, unit, target="", notes="", ok=None) -> dict:
    return {"benchmark": benchmark, "value": value, "unit": unit, "target": target, "notes": notes, "ok": ok}


def run() -> list[dict]:
    db_url = _setup_django()

    from django.conf import settings
    from django.utils import timezone

    from bookings.models import Notification, NotificationState
    from bookings.notifications.scheduled import scan_reminders
    from config.celery import app as celery_app
    from tests.botapi import BotApiServer
    from tests.notifications.processes import CeleryWorker, RedisServer

    now = timezone.now()
    _empty_tables()
    _fill(now)

    workdir = Path(tempfile.mkdtemp(prefix="bench_notify_"))
    redis_server = None
    if shutil.which("redis-server"):
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        redis_server = RedisServer(port, workdir).start()
        redis_url = redis_server.url
    else:
        redis_url = settings.REDIS_URL or "redis://127.0.0.1:6379/14"
    celery_app.conf.broker_url = redis_url
    celery_app.conf.task_always_eager = False
    celery_app._after_fork()  # drop pooled connections to the settings' broker
    if redis_server is None:
        import redis

        client = redis.Redis.from_url(redis_url)
        client.delete(*client.keys("notify:tg:*") or ["-"])
        celery_app.control.purge()

    worker = None
    with BotApiServer(enforce_limits=True) as server:
        env = {
            **os.environ, "DATABASE_URL": db_url, "REDIS_URL": redis_url,
            "DJANGO_SETTINGS_MODULE": os.environ["DJANGO_SETTINGS_MODULE"],
            "TELEGRAM_BOT_TOKEN": server.token, "TELEGRAM_API_URL": server.base_url, "LOG_LEVEL": "WARNING",
        }
        try:
            worker = CeleryWorker(env, workdir / "worker.log", concurrency=CONCURRENCY, pool=POOL).start()
            pgid = worker.process.pid
            started = time.monotonic()
            ids = scan_reminders(now=now)
            queued_in = time.monotonic() - started
            deadline = started + TIMEOUT_SECONDS
            while len(server.calls("sendMessage")) < len(ids) + server.rejected_429 and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(1.0)  # anything sent twice would arrive now
            peaks = _process_group_peak_kib(pgid)
        finally:
            if worker is not None:
                worker.stop()
            if redis_server is not None:
                redis_server.stop()

        ok_calls = [c for c in server.calls("sendMessage") if c.status == 200]
        per_chat = Counter(int(c.params["chat_id"]) for c in ok_calls)
        duplicates = sum(n - 1 for n in per_chat.values() if n > 1)
        times = sorted(c.at for c in ok_calls)
        rejected = server.rejected_429
    rate = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
    floor = _sustained_floor(times)
    sent_rows = Notification.objects.filter(pk__in=ids, state=NotificationState.SENT).count()
    notes = (f"{len(ids)} reminders written by scan_reminders and queued in {queued_in:.1f} s; "
             f"worker {POOL} -c {CONCURRENCY}; limiter set to {settings.TELEGRAM_RATE_PER_SECOND:g}/s")
    return [
        _row("notify: reminders delivered", f"{len(per_chat)}/{len(ids)}", "messages", f"{REMINDERS}/{REMINDERS}",
             f"rows marked sent: {sent_rows}", ok=len(per_chat) == len(ids) == REMINDERS),
        _row("notify: send rate (first to last message)", round(rate, 2), "msg/s", "≥ 27 (ceiling 30)", notes,
             ok=27 <= rate <= TELEGRAM_CEILING),
        _row("notify: send rate, slowest 10 s window", round(floor, 2), "msg/s", "≥ 27", ok=floor >= 27),
        _row("notify: 429s provoked", rejected, "responses", "0", "server enforces 30/s per bot, 1/s per chat",
             ok=rejected == 0),
        _row("notify: duplicates", duplicates, "messages", "0", ok=duplicates == 0),
        _row("notify: worker peak memory", round(sum(peaks) / 1024, 1), "MiB",
             "", f"VmHWM summed over {len(peaks)} processes (main + pool); largest {max(peaks, default=0) / 1024:.1f} MiB"),
    ]


if __name__ == "__main__":
    for result in run():
        print(f"{result['benchmark']:<48} {result['value']!s:>10} {result['unit']:<10} "
              f"target {result['target']:<18} {'ok' if result['ok'] else ('' if result['ok'] is None else 'NO')}"
              f"  {result['notes']}")
