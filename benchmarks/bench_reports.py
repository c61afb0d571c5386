"""Owner reports at scale: 1,000,000 bookings and 200,000 clients over three years, three branches.

``run()`` (or ``python -m benchmarks.bench_reports`` alone) creates the database named by
``BENCH_DATABASE_URL`` (default ``postgres://postgres@127.0.0.1:5432/sto_bench_reports``)
if missing, migrates it, fills it once with bulk SQL (``generate_series``; about two
minutes, skipped when the data is already there) and measures:

* the dashboard's figures for one month, all branches (three time zones), with the
  comparison period: median of several runs, and the number of queries;
* the same for one branch, and for a whole year (for reference);
* the full-year XLSX export (``manage.py report … --format xlsx``) in a child process:
  its wall time and its peak memory (the child's max RSS, Django included).

The data: 2023-01-01 … 2025-12-31. The oldest fifth of the visits is imported history
(channel ``import``, created on the import day); the rest come through Telegram, the
site, the phone and the API, are created up to 14 days ahead, and end completed (78 %),
cancelled (15 %) or no-show (7 %), with their status history (about 2.6 M rows). Each
client's first completed visit (``Client.first_visit_at``) is filled in as the booking
services would have kept it.
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/sto_bench_reports"
BOOKINGS, CLIENTS = 1_000_000, 200_000
FIRST_DAY, LAST_DAY, IMPORT_DAY = "2023-01-01", "2026-01-01", "2023-08-01"
MONTH = (date(2025, 11, 1), date(2025, 12, 1))
YEAR = (date(2025, 1, 1), date(2026, 1, 1))
RUNS = 9
ROOT = Path(__file__).resolve().parent.parent


def setup() -> str:
    """Point Django at the benchmark database (created if missing) and migrate it; its URL."""
    url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("BENCH_REPORTS_DATABASE_URL") or DEFAULT_URL
    try:
        from benchmarks import _db  # the shared runner's helper, where present
    except ImportError:
        _db = None
    if _db is not None:
        os.environ["BENCH_REPORTS_DATABASE_URL"] = url
        return _db.setup_django("reports")
    import django
    import psycopg
    from psycopg import sql

    server, name = url.rsplit("/", 1)
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    # This process exists only for this benchmark; DEBUG stays off (it would keep every query).
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.test_settings")
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    return url


FILL_SQL = f"""
SET session_replication_role = replica;  -- no FK triggers during the bulk load; ids are consistent by construction
SELECT setseed(0.42);
TRUNCATE workshops_workshop, workshops_service, clients_client, bookings_booking, bookings_bookinghistory
    RESTART IDENTITY CASCADE;
INSERT INTO workshops_workshop (name, slug, address, phone, timezone, slot_step_minutes, min_lead_minutes,
                                horizon_days, telegram_extra_days, is_active, manager_emails, reminder_offsets_hours)
VALUES ('СТО Центр', 'center', '', '', 'Europe/Moscow', 30, 60, 14, 0, true, '', '24, 2'),
       ('СТО Урал', 'ural', '', '', 'Asia/Yekaterinburg', 30, 60, 14, 0, true, '', '24, 2'),
       ('СТО Сибирь', 'siberia', '', '', 'Asia/Novosibirsk', 30, 60, 14, 0, true, '', '24, 2');
INSERT INTO workshops_workinghours (workshop_id, weekday, opens_at, closes_at, break_starts, break_ends)
SELECT w, d, '09:00', '19:00', '13:00', '14:00' FROM generate_series(1, 3) w, generate_series(0, 5) d;
INSERT INTO workshops_bay (workshop_id, name, kind, is_active, position)
SELECT w, 'Пост ' || n, 'lift', true, n FROM generate_series(1, 3) w, generate_series(1, 4) n;
INSERT INTO workshops_service (name, duration_minutes, bay_kind, is_active, position)
SELECT 'Услуга ' || n, 30 * (1 + n % 4), '', true, n FROM generate_series(1, 10) n;
INSERT INTO workshops_service_workshops (service_id, workshop_id)
SELECT s, w FROM generate_series(1, 10) s, generate_series(1, 3) w;

INSERT INTO bookings_booking (workshop_id, bay_id, service_id, client_id, starts_at, ends_at, status, channel,
                              comment, created_at)
SELECT w, (w - 1) * 4 + 1 + (n / 3) % 4, s, 1 + (n::bigint * 7919) % {CLIENTS}, starts,
       starts + (30 * (1 + s % 4)) * interval '1 minute',
       CASE WHEN imported OR r < 0.78 THEN 'completed' WHEN r < 0.93 THEN 'cancelled' ELSE 'no_show' END,
       CASE WHEN imported THEN 'import' WHEN c < 0.40 THEN 'telegram' WHEN c < 0.60 THEN 'web'
            WHEN c < 0.93 THEN 'phone' ELSE 'api' END,
       '',
       CASE WHEN imported THEN timestamptz '{IMPORT_DAY} 12:00+03' ELSE starts - random() * interval '14 days' END
FROM (
    SELECT n, 1 + n % 3 AS w, 1 + floor(10 * random() ^ 2)::int AS s, random() AS r, random() AS c,
           starts, starts < timestamptz '{FIRST_DAY}' + (timestamptz '{LAST_DAY}' - timestamptz '{FIRST_DAY}') / 5
               AS imported
    FROM (
        SELECT n, timestamptz '{FIRST_DAY} 09:00+03'
                  + (n - 1) * ((timestamptz '{LAST_DAY}' - timestamptz '{FIRST_DAY}') / {BOOKINGS}) AS starts
        FROM generate_series(1, {BOOKINGS}) n
    ) moments
) g;

-- Clients after their bookings (no FK checks in replica mode), with the first completed visit
-- the booking services would have noted (Client.first_visit_at).
INSERT INTO clients_client (id, name, kind, inn, email, comment, telegram_user_id, telegram_username, first_visit_at,
                            created_at, updated_at)
SELECT n, 'Клиент ' || n, 'person', '', '', '', CASE WHEN n % 10 < 4 THEN 100000000 + n END, '', f.first_visit_at,
       now(), now()
FROM generate_series(1, {CLIENTS}) n
LEFT JOIN (SELECT client_id, min(starts_at) AS first_visit_at FROM bookings_booking WHERE status = 'completed'
           GROUP BY client_id) f ON f.client_id = n;
SELECT setval(pg_get_serial_sequence('clients_client', 'id'), {CLIENTS});

INSERT INTO bookings_bookinghistory (booking_id, event, from_status, to_status, new_starts_at, at, actor, reason)
SELECT id, 'created', '', CASE WHEN channel = 'import' THEN 'completed' ELSE 'new' END, starts_at, created_at, '', ''
FROM bookings_booking;
INSERT INTO bookings_bookinghistory (booking_id, event, from_status, to_status, at, actor, reason)
SELECT id, 'status', 'new', 'confirmed', created_at + interval '1 hour', '', ''
FROM bookings_booking
WHERE channel <> 'import' AND (status IN ('completed', 'no_show') OR (status = 'cancelled' AND id % 2 = 0));
INSERT INTO bookings_bookinghistory (booking_id, event, from_status, to_status, at, actor, reason)
SELECT id, 'status', CASE WHEN status = 'cancelled' AND id % 2 = 1 THEN 'new' ELSE 'confirmed' END, status,
       CASE WHEN status = 'cancelled' THEN created_at + (starts_at - created_at) / 2
            ELSE starts_at + interval '1 hour' END, '', ''
FROM bookings_booking
WHERE channel <> 'import';
SET session_replication_role = DEFAULT;
"""


def fill() -> tuple[bool, float]:
    """Fill the database unless it already holds the data set; (filled now?, seconds)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM bookings_booking")
        if cursor.fetchone()[0] == BOOKINGS:
            return False, 0.0
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(FILL_SQL)
    connection.set_autocommit(True)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")  # as autovacuum soon would: statistics and the visibility map
    return True, time.perf_counter() - started


def time_figures(workshops, period, runs: int = RUNS) -> tuple[float, int]:
    """Median milliseconds of the dashboard's figures (period and comparison period), and the query count."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from reports.selectors import report_figures

    def dashboard_figures() -> None:
        report_figures(workshops=workshops, period=period)
        report_figures(workshops=workshops, period=period.previous(), detail=False)

    dashboard_figures()  # warm the caches, as a second look at the page would
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        dashboard_figures()
        timings.append((time.perf_counter() - started) * 1000)
    with CaptureQueriesContext(connection) as queries:
        dashboard_figures()
    return statistics.median(timings), len(queries)


def time_export(url: str) -> tuple[float, float, int]:
    """Seconds, peak RSS (MB) and file size of the full-year XLSX written by ``manage.py report``."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "year.xlsx"
        env = {**os.environ, "DATABASE_URL": url}
        started = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "report", "--from", YEAR[0].isoformat(),
             "--to", YEAR[1].isoformat(), "--format", "xlsx", "-o", str(out)],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
        )
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        if status != 0:
            raise RuntimeError(f"manage.py report exited with status {status}")
        return seconds, usage.ru_maxrss / 1024, out.stat().st_size


def run() -> list[dict]:
    url = setup()
    filled, fill_seconds = fill()
    from django.db import connection

    from reports.periods import Period
    from workshops.models import Workshop

    workshops = list(Workshop.objects.order_by("name"))
    month, year = Period(*MONTH), Period(*YEAR)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM bookings_booking WHERE starts_at >= %s AND starts_at < %s", YEAR)
        year_bookings = cursor.fetchone()[0]
    data_note = (f"{BOOKINGS:,} bookings, {CLIENTS:,} clients, 3 branches in 3 time zones, 2023–2025"
                 + (f"; filled in {fill_seconds:.0f} s" if filled else "; data already there"))

    month_ms, month_queries = time_figures(workshops, month)
    branch_ms, branch_queries = time_figures(workshops[:1], month)
    year_ms, _ = time_figures(workshops, year, runs=3)
    export_s, export_mb, export_bytes = time_export(url)
    return [
        {"benchmark": "reports: dashboard figures, one month, all branches", "value": round(month_ms, 1),
         "unit": "ms (median)", "target": "≤ 300",
         "notes": f"Nov 2025 + comparison period; {month_queries} queries; {data_note}"},
        {"benchmark": "reports: dashboard figures, one month, one branch", "value": round(branch_ms, 1),
         "unit": "ms (median)", "target": "", "notes": f"{branch_queries} queries"},
        {"benchmark": "reports: dashboard figures, one year, all branches", "value": round(year_ms, 1),
         "unit": "ms (median)", "target": "", "notes": "2025 + comparison period (for reference)"},
        {"benchmark": "reports: full-year XLSX export, peak memory", "value": round(export_mb, 1),
         "unit": "MB (max RSS)", "target": "≤ 300",
         "notes": f"manage.py report 2025, whole process incl. Django; {year_bookings:,} visits in the year"},
        {"benchmark": "reports: full-year XLSX export, time", "value": round(export_s, 1), "unit": "s",
         "target": "", "notes": f"file {export_bytes / 1e6:.1f} MB, six sheets, streamed (write-only, iterator)"},
    ]


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    for row in run():
        print(f"{row['benchmark']}: {row['value']} {row['unit']} (target {row['target'] or '—'}) — {row['notes']}")
