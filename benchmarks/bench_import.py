"""Import benchmark (``make bench`` runs it with the others; ``python -m benchmarks.bench_import`` alone).

A synthetic 100,000-row cp1251 CSV (messy phone formats, ~10 % repeated phones written
another way, cars, last-visit dates) imported into PostgreSQL already holding 50,000
clients; the same rows as XLSX; a re-import; a plain django-import-export ``ModelResource``
on a 10,000-row slice; and a raw ``COPY`` of the CSV into a bare table (the floor).
Each import runs in a forked child, so its peak memory is that child's own maximum RSS.
Run alone, it uses ``BENCH_DATABASE_URL`` (default below), creating and migrating it.
"""

from __future__ import annotations

import io
import os
import random
import resource
import sys
import tempfile
import time
from multiprocessing import get_context
from pathlib import Path
from typing import Any

ROWS = 100_000
EXISTING_CLIENTS = 50_000
RESOURCE_ROWS = 10_000
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/sto_bench_import"
CACHE = Path(tempfile.gettempdir()) / "sto_bench_import"

_FIRST = ["Иван", "Пётр", "Анна", "Мария", "Олег", "Сергей", "Елена", "Ольга", "Дмитрий", "Наталья"]
_LAST = ["Иванов", "Петров", "Сидоров", "Кузнецов", "Смирнов", "Попов", "Волков", "Фёдоров", "Морозов", "Лебедев"]
_CARS = ["Lada Vesta", "Kia Rio", "Hyundai Solaris", "Renault Logan", "Toyota Camry", "Skoda Octavia", "ГАЗ Газель Next"]
_LETTERS = "АВЕКМНОРСТУХ"
_VIN = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"


# --- set-up ---------------------------------------------------------------------------

def _setup() -> None:
    """Configure Django on the benchmark database (create and migrate it) unless a runner already did."""
    from django.conf import settings

    if not settings.configured:
        url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
        os.environ["DATABASE_URL"] = url
        os.environ.setdefault("SECRET_KEY", "benchmark-only")
        os.environ.setdefault("ALLOWED_HOSTS", "localhost")
        os.environ.setdefault("LOG_LEVEL", "WARNING")
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        _create_database(url)
        import django

        django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def _create_database(url: str) -> None:
    from urllib.parse import urlparse

    import psycopg

    parts = urlparse(url)
    name = parts.path.lstrip("/")
    admin_url = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


# --- data -----------------------------------------------------------------------------

def _phone_formats(national: str, rnd: random.Random) -> str:
    a, b, c, d = national[:3], national[3:6], national[6:8], national[8:]
    return rnd.choice([f"8 ({a}) {b}-{c}-{d}", f"+7 {a} {b}-{c}-{d}", f"8{national}", f"+7({a}){b}{c}{d}",
                       f"7{national}", f"8-{a}-{b}-{c}-{d}"])


def _plate(rnd: random.Random) -> str:
    return (f"{rnd.choice(_LETTERS)}{rnd.randint(1, 999):03d}{rnd.choice(_LETTERS)}{rnd.choice(_LETTERS)}"
            f"{rnd.choice(['77', '177', '56', '02', '116', '74'])}")


def synthetic_rows(count: int = ROWS, seed: int = 42) -> tuple[list[list[str]], list[str]]:
    """File rows and the national numbers of the 50,000 clients already in the database.

    Phones are distinct 9xx numbers; 10 % of rows repeat an earlier row's phone in another
    format (same client); 10 % of rows are clients the database already has.
    """
    rnd = random.Random(seed)
    nationals = [f"9{n:09d}" for n in rnd.sample(range(10**9), count + EXISTING_CLIENTS)]
    nationals = [n for n in nationals if len(set(n[-7:])) > 1]
    existing = nationals[count:count + EXISTING_CLIENTS]
    rows = []
    for i in range(count):
        roll = rnd.random()
        if roll < 0.10 and i > 10:
            national = nationals[rnd.randrange(i)]
        elif roll < 0.20:
            national = existing[rnd.randrange(len(existing))]
        else:
            national = nationals[i]
        name = f"{rnd.choice(_LAST)} {rnd.choice(_FIRST)} {rnd.choice(_FIRST)}ович"
        vin = "".join(rnd.choice(_VIN) for _ in range(17)) if rnd.random() < 0.5 else ""
        visit = f"{rnd.randint(1, 28):02d}.{rnd.randint(1, 12):02d}.{rnd.randint(2018, 2024)}"
        rows.append([name, _phone_formats(national, rnd), f"client{i}@example.ru" if rnd.random() < 0.3 else "",
                     rnd.choice(_CARS), _plate(rnd), vin, visit, "из старой базы" if rnd.random() < 0.2 else ""])
    return rows, existing


HEADER = ["ФИО", "Телефон", "E-mail", "Автомобиль", "Госномер", "VIN", "Дата последнего визита", "Комментарий"]


def csv_bytes(rows: list[list[str]]) -> bytes:
    lines = [";".join(HEADER)] + [";".join(row) for row in rows]
    return ("\r\n".join(lines) + "\r\n").encode("cp1251")


def xlsx_bytes(rows: list[list[str]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Клиенты")
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _files() -> tuple[Path, Path, list[str]]:
    """The CSV and XLSX files (made once, cached) and the national numbers of the clients in the base.

    The rows are generated in a forked child: the importing children are forked from this process
    and count its pages in their peak memory, so it keeps neither the generator's leftovers nor
    the other format's bytes.
    """
    CACHE.mkdir(exist_ok=True)
    csv_path, xlsx_path = CACHE / f"clients-{ROWS}.csv", CACHE / f"clients-{ROWS}.xlsx"
    existing_path = CACHE / f"existing-{EXISTING_CLIENTS}.txt"
    if not (csv_path.exists() and xlsx_path.exists() and existing_path.exists()):
        process = get_context("fork").Process(target=_write_files, args=(csv_path, xlsx_path, existing_path))
        process.start()
        process.join()
        if process.exitcode != 0:
            raise RuntimeError("generating the benchmark files failed")
    return csv_path, xlsx_path, existing_path.read_text().split()


def _write_files(csv_path: Path, xlsx_path: Path, existing_path: Path) -> None:
    rows, existing = synthetic_rows()
    csv_path.write_bytes(csv_bytes(rows))
    xlsx_path.write_bytes(xlsx_bytes(rows))
    existing_path.write_text("\n".join(existing))


# --- database state -------------------------------------------------------------------

def _reset(existing: list[str]) -> Any:
    """Empty client tables, then 50,000 clients with phones (COPY); returns the branch."""
    from django.db import connection

    from tests.factories import BayFactory, WorkshopFactory  # noqa: F401 (factory_boy is a dev requirement)
    from workshops.models import Bay, Workshop

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE bookings_bookinghistory, bookings_booking, clients_vehicle, clients_clientphone, "
                       "clients_client_workshops, clients_client, imports_importjob RESTART IDENTITY CASCADE")
        with cursor.copy("COPY clients_client (name, kind, inn, email, comment, telegram_username, created_at, updated_at) FROM STDIN") as copy:
            for i, _n in enumerate(existing):
                copy.write_row((f"Клиент из базы {i}", "person", "", "", "", "", "2024-01-01", "2024-01-01"))
        cursor.execute("SELECT id FROM clients_client ORDER BY id")
        ids = [row[0] for row in cursor.fetchall()]
        with cursor.copy("COPY clients_clientphone (client_id, number, extension, position) FROM STDIN") as copy:
            for client_id, national in zip(ids, existing):
                copy.write_row((client_id, "+7" + national, "", 0))
        cursor.execute("ANALYZE clients_client; ANALYZE clients_clientphone")
    workshop = Workshop.objects.filter(slug="bench").first() or Workshop.objects.create(name="Бенчмарк", slug="bench")
    if not Bay.objects.filter(workshop=workshop).exists():
        Bay.objects.create(workshop=workshop, name="Пост 1")
    return workshop


# --- measurements ---------------------------------------------------------------------

def _in_child(target: Any, *args: Any) -> dict[str, Any]:
    """Run ``target(*args)`` in a forked child; its result plus the child's peak RSS (MB)."""
    from django.db import connections

    connections.close_all()
    ctx = get_context("fork")
    parent, child = ctx.Pipe()

    def body() -> None:
        start_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        result = target(*args)
        result["start_mb"] = start_mb  # what the child had from its parent (Django, the benchmark)
        result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        child.send(result)

    process = ctx.Process(target=body)
    process.start()
    result = parent.recv()
    process.join()
    return result


def _import(path: Path, filename: str, workshop_id: int) -> dict[str, Any]:
    from imports.engine import run_import
    from workshops.models import Workshop

    workshop = Workshop.objects.get(pk=workshop_id)
    data = path.read_bytes()  # as the job reads its stored file
    started = time.perf_counter()
    result = run_import(data=data, filename=filename, workshop=workshop)
    elapsed = time.perf_counter() - started
    return {"seconds": elapsed, "created": result.summary["clients_created"], "imported": result.summary["imported"]}


def _model_resource(path: Path) -> dict[str, Any]:
    """django-import-export's stock path: a plain ModelResource, one row at a time."""
    import tablib
    from import_export import resources

    from clients.models import Client

    class PlainClientResource(resources.ModelResource):
        class Meta:
            model = Client
            fields = ("name", "email", "comment")
            import_id_fields = ("email",)

    text = path.read_bytes().decode("cp1251").splitlines()
    dataset = tablib.Dataset(headers=["name", "phone", "email", "car", "plate", "vin", "visit", "comment"])
    for i, line in enumerate(text[1: RESOURCE_ROWS + 1]):
        row = line.split(";")
        row[2] = row[2] or f"bench{i}@example.ru"
        dataset.append(row)
    started = time.perf_counter()
    PlainClientResource().import_data(dataset, dry_run=False, raise_errors=True)
    return {"seconds": time.perf_counter() - started}


def _raw_copy(data: bytes) -> float:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_raw_copy")
        cursor.execute("CREATE UNLOGGED TABLE bench_raw_copy (" + ", ".join(f"c{i} text" for i in range(len(HEADER))) + ")")
        started = time.perf_counter()
        with cursor.copy("COPY bench_raw_copy FROM STDIN WITH (FORMAT csv, DELIMITER ';', HEADER true, ENCODING 'WIN1251')") as copy:
            copy.write(data)
        elapsed = time.perf_counter() - started
        cursor.execute("DROP TABLE bench_raw_copy")
    return elapsed


def run() -> list[dict[str, Any]]:
    """Benchmark rows: ``benchmark, value, unit, target, notes``."""
    _setup()
    csv_path, xlsx_path, existing = _files()
    copy_seconds = min(_raw_copy(csv_path.read_bytes()) for _ in range(3))

    workshop = _reset(existing)
    first = _in_child(_import, csv_path, "clients.csv", workshop.pk)
    again = _in_child(_import, csv_path, "clients.csv", workshop.pk)
    workshop = _reset(existing)
    xlsx = _in_child(_import, xlsx_path, "clients.xlsx", workshop.pk)
    workshop = _reset(existing)
    stock = _in_child(_model_resource, csv_path)
    stock_rate = RESOURCE_ROWS / stock["seconds"]
    our_rate = ROWS / first["seconds"]
    setting = f"{ROWS:,} rows into PostgreSQL holding {EXISTING_CLIENTS:,} clients".replace(",", " ")
    return [
        {"benchmark": "import: raw COPY of the CSV (floor)", "value": round(copy_seconds, 3), "unit": "s",
         "target": "", "notes": f"{ROWS:,} rows into a bare unlogged table".replace(",", " ")},
        {"benchmark": "import: CSV (cp1251), parse + normalise + merge + write", "value": round(first["seconds"], 2),
         "unit": "s", "target": f"≤ 15× raw COPY = {15 * copy_seconds:.2f} s",
         "notes": f"{setting}; {first['created']} new clients; {first['seconds'] / copy_seconds:.1f}× COPY"},
        {"benchmark": "import: CSV peak memory", "value": round(first["peak_mb"]), "unit": "MB", "target": "< 250",
         "notes": f"max RSS of the importing process, Django included ({round(first['start_mb'])} MB at its start)"},
        {"benchmark": "import: re-import of the same CSV", "value": round(again["seconds"], 2), "unit": "s",
         "target": f"≤ first import ({first['seconds']:.2f} s)", "notes": f"{again['created']} new clients (must be 0)"},
        {"benchmark": "import: XLSX, same rows", "value": round(xlsx["seconds"], 2), "unit": "s", "target": "≤ 3",
         "notes": f"python-calamine; peak {round(xlsx['peak_mb'])} MB"},
        {"benchmark": "import: plain ModelResource", "value": round(stock_rate), "unit": "rows/s", "target": "",
         "notes": f"django-import-export, {RESOURCE_ROWS:,} rows, import_id_fields=email".replace(",", " ")},
        {"benchmark": "import: this importer", "value": round(our_rate), "unit": "rows/s",
         "target": f"≥ 50× plain resource = {50 * stock_rate:,.0f}".replace(",", " "),
         "notes": f"{our_rate / stock_rate:.0f}× the plain resource per row"},
    ]


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    for row in run():
        print(f"{row['benchmark']:<58} {row['value']:>10} {row['unit']:<7} {row['target']:<32} {row['notes']}")
