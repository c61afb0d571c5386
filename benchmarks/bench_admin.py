"""Benchmark: the bookings changelist and the day journal in admin, with 1,000,000 bookings.

Target (issue 2): each page ≤ 100 ms median server time with 1,000,000 bookings in the
table. Server time is the Django test client's round trip through the whole stack
(middleware, session, permissions, queries, templates) with ``DEBUG=0``; no network.

The measurement runs in a child process against its own database
(``BENCH_DATABASE_URL``, default ``postgres://postgres@127.0.0.1:5432/sto_bench_admin``),
which it creates, migrates and fills with bulk SQL (``INSERT … SELECT generate_series``)
the first time; later runs reuse the fill. So ``run()`` works whatever settings the
calling process was started with.

    python -m benchmarks.bench_admin           # prints the table
    python -m benchmarks.bench_admin --worker  # (internal) measures, prints JSON rows
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/sto_bench_admin"
TARGET_MS = 100.0
BOOKINGS = 1_000_000
CLIENTS = 100_000
BRANCHES = 5
BAYS_PER_BRANCH = 6
RUNS = 30
WARMUP = 5


def run() -> list[dict]:
    """Measure in a child process against the benchmark database; return the result rows."""
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    env = {
        key: value for key, value in os.environ.items() if key not in ("REDIS_URL", "DJANGO_SETTINGS_MODULE")
    }
    env.update(
        DATABASE_URL=url,
        DJANGO_SETTINGS_MODULE="config.settings",
        SECRET_KEY="benchmark-only",
        DEBUG="0",
        ALLOWED_HOSTS="testserver",
        SECURE_SSL_REDIRECT="0",
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
        LOG_LEVEL="WARNING",
        # DEBUG=0 serves hashed static names from a manifest, as in production: collected once here.
        STATIC_ROOT=str(Path(tempfile.gettempdir()) / "sto_bench_admin_static"),
    )
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=BASE_DIR, env=env,
                   check=True)
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_admin", "--worker"],
        cwd=BASE_DIR, env=env, capture_output=True, text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench_admin worker failed:\n{done.stderr[-4000:]}")
    sys.stderr.write(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- the worker: everything below runs inside the child process ---------------------------


def _ensure_database(url: str) -> None:
    """Create the benchmark database if it does not exist (connecting to ``postgres``)."""
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def _log(message: str) -> None:
    print(f"[bench_admin] {message}", file=sys.stderr, flush=True)


def _fill() -> None:
    """Reference data through the ORM, then clients and 1,000,000 bookings in bulk SQL.

    Per branch: 6 bays, Mon–Sat 09:00–19:00 with lunch 13–14, 10 services; 200,000 past
    bookings over three years (completed / cancelled / no-show, never overlapping rules
    since they are not active), and active bookings on the grid for today and the next
    13 days (about 500 per branch), never overlapping on a bay.
    """
    from datetime import time as dtime

    from django.contrib.auth.models import Permission, User
    from django.db import connection, transaction

    from workshops.models import Bay, BayKind, Company, Service, StaffMembership, Workshop, WorkingHours

    zones = ["Europe/Moscow", "Asia/Yekaterinburg", "Europe/Samara", "Asia/Novosibirsk", "Europe/Kaliningrad"]
    with transaction.atomic():
        Company.objects.get_or_create(name="ООО «Бенчмарк»")
        workshops = []
        for i in range(BRANCHES):
            workshop = Workshop.objects.create(name=f"Филиал {i + 1}", slug=f"bench-{i + 1}", timezone=zones[i])
            workshops.append(workshop)
            for weekday in range(6):
                WorkingHours.objects.create(
                    workshop=workshop, weekday=weekday, opens_at=dtime(9), closes_at=dtime(19),
                    break_starts=dtime(13), break_ends=dtime(14),
                )
            for b in range(BAYS_PER_BRANCH):
                Bay.objects.create(workshop=workshop, name=f"Пост {b + 1}", kind=BayKind.LIFT, position=b)
        for s in range(10):
            service = Service.objects.create(name=f"Услуга {s + 1}", duration_minutes=60, bay_kind="")
            service.workshops.add(*workshops)
        User.objects.create_superuser("bench-owner", password="x")
        manager = User.objects.create_user("bench-manager", password="x", is_staff=True)
        manager.user_permissions.add(*Permission.objects.filter(content_type__app_label__in=["bookings", "clients", "workshops"]))
        StaffMembership.objects.create(user=manager, workshop=workshops[0])

    with connection.cursor() as cur:
        _log("clients, phones, cars …")
        cur.execute(
            """
            INSERT INTO clients_client (name, kind, inn, email, comment, telegram_username, created_at, updated_at)
            SELECT 'Клиент ' || g, 'person', '', '', '', '', now(), now() FROM generate_series(1, %s) g
            """,
            [CLIENTS],
        )
        cur.execute(
            """
            INSERT INTO clients_clientphone (client_id, number, extension, position)
            SELECT id, '+7910' || lpad((id %% 10000000)::text, 7, '0'), '', 0 FROM clients_client
            """,
            [],
        )
        cur.execute(
            """
            INSERT INTO clients_client_workshops (client_id, workshop_id)
            SELECT c.id, w.id FROM clients_client c
            JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM workshops_workshop) w
              ON w.n = c.id %% %s
            """,
            [BRANCHES],
        )
        cur.execute(
            """
            INSERT INTO clients_vehicle (client_id, make, model, plate, vin, created_at)
            SELECT id, 'Lada', 'Vesta',
                   substr('АВЕКМНОРСТУХ', (id %% 12)::int + 1, 1) || lpad((id %% 1000)::text, 3, '0')
                   || substr('АВЕКМНОРСТУХ', ((id / 12) %% 12)::int + 1, 1)
                   || substr('АВЕКМНОРСТУХ', ((id / 144) %% 12)::int + 1, 1) || '77',
                   '', now()
            FROM clients_client
            """,
            [],
        )
        _log("active bookings for today and the next 13 days …")
        # Every bay, seven one-hour slots a day (09, 10, 11, 14, 15, 17, 18 Moscow time), on
        # two days in three: never two on a bay at once (the exclusion constraint forbids it).
        cur.execute(
            """
            WITH c AS (SELECT min(id) AS first FROM clients_client)
            INSERT INTO bookings_booking (workshop_id, bay_id, service_id, client_id, starts_at, ends_at,
                                          status, channel, comment, created_at)
            SELECT b.workshop_id, b.id, (SELECT min(id) FROM workshops_service), c.first + (d * 97 + h * 13 + b.id) %% %s,
                   t.starts, t.starts + interval '1 hour',
                   CASE WHEN (d + h) %% 3 = 0 THEN 'confirmed' ELSE 'new' END, 'telegram', '', now()
            FROM workshops_bay b
            CROSS JOIN c
            CROSS JOIN generate_series(0, 13) d
            CROSS JOIN (VALUES (6), (7), (8), (11), (12), (14), (15)) hours(h)
            CROSS JOIN LATERAL (
                SELECT date_trunc('day', now()) + make_interval(days => d, hours => h) AS starts
            ) t
            WHERE (d + b.id) %% 3 <> 0
            """,
            [CLIENTS],
        )
        cur.execute("SELECT count(*) FROM bookings_booking")
        past = BOOKINGS - cur.fetchone()[0]
        _log(f"{past:,} past bookings …")
        # Booking g: branch g % 5, a bay and a client of that branch (client id % 5 names its
        # branch), a day up to three years back, an hour 09–17 Moscow time.
        cur.execute(
            """
            WITH w AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM workshops_workshop),
                 b AS (SELECT id, workshop_id, row_number() OVER (PARTITION BY workshop_id ORDER BY id) - 1 AS n
                       FROM workshops_bay),
                 s AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM workshops_service),
                 c AS (SELECT min(id) AS first FROM clients_client)
            INSERT INTO bookings_booking (workshop_id, bay_id, service_id, client_id, vehicle_id, starts_at, ends_at,
                                          status, channel, comment, created_at)
            SELECT w.id, b.id, s.id, cl.id, v.id, t.starts, t.starts + interval '1 hour',
                   (ARRAY['completed','completed','completed','completed','completed','completed','completed',
                          'completed','cancelled','no_show'])[1 + ((g / %(branches)s) * 7) %% 10],
                   (ARRAY['telegram','phone','phone','web','import'])[1 + ((g / %(branches)s) * 3) %% 5],
                   '', t.starts - interval '2 days'
            FROM generate_series(0::bigint, %(past)s - 1) g
            CROSS JOIN c
            JOIN w ON w.n = g %% %(branches)s
            JOIN b ON b.workshop_id = w.id AND b.n = (g / %(branches)s) %% %(bays)s
            JOIN s ON s.n = (g / 7) %% 10
            JOIN clients_client cl
              ON cl.id = c.first + ((g / %(branches)s) * %(branches)s
                                    + ((g %% %(branches)s) - c.first %% %(branches)s + %(branches)s) %% %(branches)s)
                                   %% %(clients)s
            JOIN clients_vehicle v ON v.client_id = cl.id
            CROSS JOIN LATERAL (
                SELECT date_trunc('day', now()) - make_interval(days => (1 + (g * 7919) %% 1095)::int)
                       + make_interval(hours => (6 + (g / 30) %% 9)::int) AS starts
            ) t
            """,
            {"past": past, "branches": BRANCHES, "bays": BAYS_PER_BRANCH, "clients": CLIENTS},
        )


def _measure(client, url: str) -> tuple[float, float, int]:
    """Median wall and CPU milliseconds of GET ``url``, and the queries one request makes.

    CPU time (this process) is reported next to the wall time because the machine may be
    shared: wall time then includes waiting for a core, CPU time does not.
    """
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(WARMUP):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
    wall, cpu = [], []
    for _ in range(RUNS):
        started, started_cpu = time.perf_counter(), time.process_time()
        client.get(url)
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    return statistics.median(wall), statistics.median(cpu), len(queries)


def _worker() -> None:
    import django

    url = os.environ["DATABASE_URL"]
    _ensure_database(url)
    django.setup()

    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.test import Client
    from django.utils import timezone

    from bookings.models import Booking
    from clients.models import ClientPhone
    from workshops.models import Workshop

    call_command("migrate", verbosity=0)
    if not Booking.objects.exists():
        started = time.perf_counter()
        with transaction.atomic():  # all or nothing: an interrupted fill leaves an empty database
            _fill()
        with connection.cursor() as cur:
            cur.execute("ANALYZE")
        _log(f"filled in {time.perf_counter() - started:.0f} s")
    total = Booking.objects.count()

    owner, manager = User.objects.get(username="bench-owner"), User.objects.get(username="bench-manager")
    branch = Workshop.objects.order_by("id").first()
    phone = ClientPhone.objects.filter(client__workshops=branch).order_by("id").values_list("number", flat=True)[500]
    typed_phone = f"8 ({phone[2:5]}) {phone[5:8]}-{phone[8:10]}-{phone[10:]}"
    today = timezone.now().astimezone(branch.tz).date().isoformat()
    changelist = "/admin/bookings/booking/"
    journal = "/admin/bookings/booking/journal/"
    cases = [
        ("changelist, manager of one branch", manager, changelist),
        ("changelist, owner (all branches)", owner, changelist),
        ("changelist, owner, status=new", owner, changelist + "?status__exact=new"),
        ("changelist, manager, today", manager, changelist + "?day=today"),
        ("changelist, manager, search by phone", manager, changelist + "?q=" + typed_phone),
        ("changelist, owner, search by name", owner, changelist + "?q=Клиент 4242"),
        ("changelist, owner, page 100 (deepest)", owner, changelist + "?p=100"),
        ("day journal, manager, today", manager, f"{journal}?workshop={branch.pk}&day={today}"),
    ]
    rows = []
    for title, user, target in cases:
        client = Client()
        client.force_login(user)
        median, cpu, queries = _measure(client, target)
        rows.append({
            "benchmark": f"admin: {title}",
            "value": round(median, 1),
            "unit": "ms (median)",
            "target": f"≤ {TARGET_MS:.0f} ms",
            "notes": f"CPU {cpu:.0f} ms; {queries} queries/request; {total:,} bookings; {RUNS} runs; "
                     f"load {os.getloadavg()[0]:.1f}",
        })
        _log(f"{title}: {median:.1f} ms (CPU {cpu:.1f} ms), {queries} queries")
    print(json.dumps(rows, ensure_ascii=False))


def _print_table(rows: list[dict]) -> None:
    width = max(len(row["benchmark"]) for row in rows)
    for row in rows:
        print(f"{row['benchmark']:<{width}}  {row['value']:>8} {row['unit']:<12} {row['target']:<10} {row['notes']}")


if __name__ == "__main__":
    if "--worker" in sys.argv:
        sys.path.insert(0, str(BASE_DIR))
        _worker()
    else:
        _print_table(run())
