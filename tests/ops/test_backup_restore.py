"""deploy/backup.sh and deploy/restore.sh against the real PostgreSQL server, without Docker.

The same scripts run inside the compose `backup` service; here they use this machine's
pg_dump / pg_restore / psql. A dump restored into an empty database must give a working
app: nothing left to migrate, bookings readable and bookable through the engine.
"""

import json
import shutil
import zoneinfo
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from bookings.models import Booking, BookingChannel
from bookings.services import booking_create
from tests.conftest import next_weekday
from tests.ops.conftest import ROOT, database_url, manage, production_env, run

MSK = zoneinfo.ZoneInfo("Europe/Moscow")

pytestmark = [
    pytest.mark.django_db(transaction=True),  # committed rows, so pg_dump in another process sees them
    pytest.mark.skipif(
        not all(shutil.which(tool) for tool in ("pg_dump", "pg_restore", "psql")),
        reason="needs the PostgreSQL client tools (pg_dump, pg_restore, psql)",
    ),
]

BACKUP = str(ROOT / "deploy" / "backup.sh")
RESTORE = str(ROOT / "deploy" / "restore.sh")

# Run inside the restored database by a fresh `manage.py shell`: read the booking the dump
# holds, book the next hour for the same client through the engine, report both as JSON.
READ_AND_BOOK = """
import json
from datetime import datetime
from bookings.models import Booking, BookingChannel
from bookings.services import booking_create
old = Booking.objects.select_related("client", "workshop", "service").get(pk={pk})
new = booking_create(
    workshop=old.workshop, service=old.service, client=old.client,
    starts_at=datetime.fromisoformat("{starts_at}"), channel=BookingChannel.PHONE,
)
print(json.dumps({{
    "old": [old.client.name, old.workshop.slug, old.status, old.starts_at.isoformat()],
    "new": [new.pk, new.bay_id, new.status],
}}))
"""


def dumps_in(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def backup(folder: Path, url: str, keep: int = 14, check: bool = True):
    env = production_env(DATABASE_URL=url, BACKUP_DIR=str(folder), BACKUP_KEEP=str(keep))
    return run([BACKUP], env=env, check=check)


def count_rows(url: str, table: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(f"select count(*) from {table}").fetchone()[0]


@pytest.fixture
def source_url() -> str:
    return database_url(connection.settings_dict["NAME"])


@pytest.fixture
def empty_database():
    """A new, empty database on the test server, dropped afterwards; yields its URL."""
    name = connection.settings_dict["NAME"] + "_restored"
    admin_url = database_url("postgres")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')
        conn.execute(f'create database "{name}"')
    yield database_url(name)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


@pytest.mark.slow
def test_a_restored_backup_runs_the_app_with_nothing_to_migrate(
    workshop, lift, oil_change, client_ivan, source_url, empty_database, tmp_path
):
    starts = next_weekday(1, MSK, 10)
    booking = booking_create(
        workshop=workshop, service=oil_change, client=client_ivan, starts_at=starts, channel=BookingChannel.TELEGRAM
    )

    said = backup(tmp_path, source_url).stdout
    [dump] = dumps_in(tmp_path)
    assert dump.startswith("sto-") and dump.endswith(".dump")
    assert f"wrote {tmp_path / dump}" in said

    restored = run([RESTORE, str(tmp_path / dump)], env=production_env(DATABASE_URL=empty_database))
    assert "restored" in restored.stdout

    env = production_env(DATABASE_URL=empty_database)
    # --check: exit status 1 if anything were left to apply.
    assert "No planned migration operations" in manage("migrate", "--check", "--plan", env=env).stdout

    code = READ_AND_BOOK.format(pk=booking.pk, starts_at=(starts + timedelta(hours=1)).isoformat())
    answer = json.loads(manage("shell", "--no-imports", "-c", code, env=env).stdout.strip().splitlines()[-1])
    name, slug, status, old_starts = answer["old"]
    assert (name, slug, status, datetime.fromisoformat(old_starts)) == ("Иван Петров", "center", "new", starts)
    new_pk, new_bay, new_status = answer["new"]
    assert new_bay == lift.pk and new_status == "new"

    assert count_rows(empty_database, "bookings_booking") == 2
    assert count_rows(empty_database, "bookings_bookinghistory") == 2
    assert list(Booking.objects.values_list("pk", flat=True)) == [booking.pk], "the source database is untouched"


@pytest.mark.slow
def test_the_no_double_booking_constraint_comes_back_with_the_dump(
    workshop, lift, oil_change, client_ivan, source_url, empty_database, tmp_path
):
    """Not only rows: btree_gist and the exclusion constraint that forbids overlaps are restored too."""
    booking_create(
        workshop=workshop, service=oil_change, client=client_ivan,
        starts_at=next_weekday(2, MSK, 15), channel=BookingChannel.PHONE,
    )
    backup(tmp_path, source_url)
    run([RESTORE, str(tmp_path / dumps_in(tmp_path)[0])], env=production_env(DATABASE_URL=empty_database))

    with psycopg.connect(empty_database) as conn:
        extensions = conn.execute("select extname from pg_extension where extname = 'btree_gist'").fetchall()
        constraint = conn.execute(
            "select contype from pg_constraint where conname = 'booking_no_overlap_on_bay'"
        ).fetchall()
    assert extensions == [("btree_gist",)]
    assert constraint == [("x",)], "an exclusion constraint"
    assert count_rows(empty_database, "bookings_booking") == 1


def test_backup_keeps_only_the_newest_dumps(source_url, tmp_path):
    for day in ("01", "02", "03"):
        (tmp_path / f"sto-202001{day}-033000.dump").write_bytes(b"an old dump")

    said = backup(tmp_path, source_url, keep=2).stdout

    files = dumps_in(tmp_path)
    assert len(files) == 2
    assert files[0] == "sto-20200103-033000.dump"
    assert files[1] > files[0], "the new dump is the newest"
    assert "removed" in said and "sto-20200101-033000.dump" in said


def test_a_failed_backup_leaves_no_file_that_looks_like_a_backup(tmp_path):
    missing = database_url("sto_no_such_database")

    result = backup(tmp_path, missing, check=False)

    assert result.returncode != 0
    assert "sto_no_such_database" in result.stderr
    assert dumps_in(tmp_path) == []


def test_backup_refuses_a_keep_count_that_is_not_a_number(source_url, tmp_path):
    result = run(
        [BACKUP],
        env=production_env(DATABASE_URL=source_url, BACKUP_DIR=str(tmp_path), BACKUP_KEEP="all"),
        check=False,
    )
    assert result.returncode == 2
    assert "BACKUP_KEEP" in result.stderr
    assert dumps_in(tmp_path) == []


def test_restore_refuses_a_database_that_already_has_tables(
    workshop, lift, oil_change, client_ivan, source_url, tmp_path
):
    booking_create(
        workshop=workshop, service=oil_change, client=client_ivan,
        starts_at=next_weekday(3, MSK, 10), channel=BookingChannel.PHONE,
    )
    backup(tmp_path, source_url)

    result = run([RESTORE, str(tmp_path / dumps_in(tmp_path)[0])], env=production_env(DATABASE_URL=source_url), check=False)

    assert result.returncode == 3
    assert "empty database" in result.stderr
    assert Booking.objects.count() == 1
