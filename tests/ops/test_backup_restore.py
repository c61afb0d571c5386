"""deploy/backup.sh and deploy/restore.sh against the real PostgreSQL server, without Docker.

The same scripts run inside the compose `backup` service; here they use this machine's
pg_dump / pg_restore / psql. A dump restored into an empty database must give a working
app: nothing left to migrate, bookings readable and bookable through the engine.
"""

import json
import os
import shutil
import signal
import subprocess
import tarfile
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
RESTORE_STACK = str(ROOT / "deploy" / "restore-stack.sh")

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


def backup(
    folder: Path, url: str, keep: int = 14, check: bool = True, args: tuple[str, ...] = (), media: Path | None = None
):
    # Not the script's default, /media: on a test machine that is the mount point for removable disks.
    media = media or folder.parent / "no-media-folder"
    env = production_env(DATABASE_URL=url, BACKUP_DIR=str(folder), BACKUP_KEEP=str(keep), BACKUP_MEDIA_DIR=str(media))
    return run([BACKUP, *args], env=env, check=check)


def book_and_back_up(workshop, service, client, source_url: str, folder: Path, *, day: int, hour: int) -> None:
    """A phone booking at ``hour`` on the next ``day`` of the week, then a backup of the source database into ``folder``."""
    booking_create(workshop=workshop, service=service, client=client, starts_at=next_weekday(day, MSK, hour),
                   channel=BookingChannel.PHONE)
    backup(folder, source_url)


def restore(path: Path, url: str, *args: str, check: bool = True):
    return run([RESTORE, *args, str(path)], env=production_env(DATABASE_URL=url), check=check)


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
    book_and_back_up(workshop, oil_change, client_ivan, source_url, tmp_path, day=2, hour=15)
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
    book_and_back_up(workshop, oil_change, client_ivan, source_url, tmp_path, day=3, hour=10)

    result = run([RESTORE, str(tmp_path / dumps_in(tmp_path)[0])], env=production_env(DATABASE_URL=source_url), check=False)

    assert result.returncode == 3
    assert "empty database" in result.stderr
    assert Booking.objects.count() == 1


def test_the_safety_copy_before_a_restore_never_rotates_away_the_dump_being_restored(
    workshop, lift, oil_change, client_ivan, source_url, empty_database, tmp_path
):
    """restore-stack.sh takes `backup.sh --pre-restore` before it replaces the data; the folder is full."""
    book_and_back_up(workshop, oil_change, client_ivan, source_url, tmp_path, day=1, hour=11)
    [oldest] = dumps_in(tmp_path)
    (tmp_path / "sto-29991231-033000.dump").write_bytes(b"a newer dump")

    said = backup(tmp_path, source_url, keep=2, args=("--pre-restore",)).stdout

    files = dumps_in(tmp_path)
    assert oldest in files and "removed" not in said
    [safety_copy] = [name for name in files if name.startswith("pre-restore-")]
    assert safety_copy.endswith(".dump") and len(files) == 3
    restore(tmp_path / oldest, empty_database)
    assert count_rows(empty_database, "bookings_booking") == 1

    backup(tmp_path, source_url, keep=1)
    assert safety_copy in dumps_in(tmp_path), "the nightly rotation leaves pre-restore copies alone"


@pytest.mark.parametrize("what", ["a directory", "a missing file", "not a dump"])
def test_restore_refuses_what_is_not_a_dump_and_touches_nothing(what, source_url, empty_database, tmp_path):
    path = tmp_path / "sto-20260101-033000.dump"
    if what == "a directory":
        path.mkdir()  # what Docker leaves when the source of a bind mount is missing
    elif what == "not a dump":
        path.write_text("<html>404</html>")

    for args in ((), ("--check",)):
        result = restore(path, empty_database, *args, check=False)
        assert result.returncode == 2, (args, result.stderr)
        assert str(path) in result.stderr
    assert {"a directory": "not a file", "a missing file": "does not exist", "not a dump": "not a dump"}[what] in result.stderr
    with psycopg.connect(empty_database) as conn:
        assert conn.execute("select count(*) from pg_tables where schemaname = 'public'").fetchone() == (0,)


def test_restore_check_accepts_a_dump_and_changes_nothing(source_url, empty_database, tmp_path):
    backup(tmp_path, source_url)

    said = restore(tmp_path / dumps_in(tmp_path)[0], empty_database, "--check").stdout

    assert "readable" in said
    with psycopg.connect(empty_database) as conn:
        assert conn.execute("select count(*) from pg_tables where schemaname = 'public'").fetchone() == (0,)


# restore-stack.sh drives `docker compose`; a stand-in `docker` on PATH records each call instead.
FAKE_DOCKER = """#!/bin/sh
echo "$*" >> "$DOCKER_LOG"
case "$*" in *" --check "*) exit "${FAKE_CHECK_STATUS:-0}" ;; esac
"""


def restore_stack(tmp_path: Path, dump: Path, check_status: int = 0):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "docker").write_text(FAKE_DOCKER)
    (bin_dir / "docker").chmod(0o755)
    log = tmp_path / "docker.log"
    env = production_env(DOCKER_LOG=str(log), FAKE_CHECK_STATUS=str(check_status))
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    result = run([RESTORE_STACK, "--yes", str(dump)], env=env, check=False)
    return result, (log.read_text().splitlines() if log.exists() else [])


def test_restore_stack_refuses_a_directory_before_calling_docker(tmp_path):
    folder = tmp_path / "sto-20260101-033000.dump"
    folder.mkdir()

    result, calls = restore_stack(tmp_path, folder)

    assert result.returncode == 2
    assert "is not a file" in result.stderr
    assert calls == []


def test_restore_stack_stops_nothing_when_the_dump_does_not_check_out(tmp_path):
    dump = tmp_path / "sto-20260101-033000.dump"
    dump.write_text("garbage")

    result, calls = restore_stack(tmp_path, dump, check_status=2)

    assert result.returncode == 2
    assert len(calls) == 1 and "restore.sh backup --check /restore/backup.dump" in calls[0]


def test_restore_stack_checks_then_takes_an_unrotated_safety_copy_then_restores(tmp_path):
    dump = tmp_path / "sto-20260101-033000.dump"
    dump.write_text("a dump")

    result, calls = restore_stack(tmp_path, dump)

    assert result.returncode == 0, result.stderr
    steps = [call for call in calls if " run " in call or " stop " in call]
    assert "--check /restore/backup.dump" in steps[0]
    assert steps[1].startswith("compose stop web bot worker beat backup")
    assert steps[2].endswith("backup.sh backup --pre-restore")
    assert steps[-1].endswith("restore.sh backup --replace /restore/backup.dump")
    assert f"{dump}:/restore/backup.dump:ro" in steps[-1]
    assert not any("dropdb" in call for call in calls), "the database to empty may be external: restore.sh does it"


# What the compose `backup` service gets besides DATABASE_URL: the postgres container's database.
# Pointed at a database that does not exist, so only DATABASE_URL can make a run succeed.
UNUSED_LOCAL_DATABASE = {"PGHOST": "127.0.0.1", "PGUSER": "postgres", "PGDATABASE": "sto_backup_test_unused_local"}


def test_backup_dumps_the_database_of_database_url_when_it_is_set(
    workshop, lift, oil_change, client_ivan, source_url, empty_database, tmp_path
):
    booking_create(
        workshop=workshop, service=oil_change, client=client_ivan,
        starts_at=next_weekday(2, MSK, 10), channel=BookingChannel.PHONE,
    )
    backups = tmp_path / "backups"
    env = production_env(
        DATABASE_URL=source_url, BACKUP_DIR=str(backups), BACKUP_MEDIA_DIR=str(tmp_path / "no-media"),
        **UNUSED_LOCAL_DATABASE,
    )

    run([BACKUP], env=env)

    restore(backups / dumps_in(backups)[0], empty_database)
    assert count_rows(empty_database, "bookings_booking") == 1


def test_backup_uses_the_pg_variables_when_database_url_is_empty(source_url, tmp_path):
    """Compose passes DATABASE_URL empty when .env does not set it."""
    env = production_env(
        DATABASE_URL="", BACKUP_DIR=str(tmp_path), PGHOST="127.0.0.1", PGUSER="postgres",
        PGDATABASE="sto_backup_test_unused_local",
    )

    result = run([BACKUP], env=env, check=False)

    assert result.returncode != 0 and "sto_backup_test_unused_local" in result.stderr, "it went to PGDATABASE"


def _a_booking_backed_up_and_restored(workshop, oil_change, client, source_url, target_url, tmp_path) -> Path:
    """One booking, a backup of it, and that backup restored into ``target_url``; returns the dump."""
    book_and_back_up(workshop, oil_change, client, source_url, tmp_path, day=2, hour=12)
    dump = tmp_path / dumps_in(tmp_path)[0]
    restore(dump, target_url)
    return dump


def test_restore_replace_swaps_the_data_of_database_url_for_the_dump(
    workshop, lift, oil_change, client_ivan, source_url, empty_database, tmp_path
):
    dump = _a_booking_backed_up_and_restored(workshop, oil_change, client_ivan, source_url, empty_database, tmp_path)
    with psycopg.connect(empty_database) as conn:
        conn.execute("delete from bookings_bookinghistory")
        conn.execute("delete from bookings_booking")
        conn.execute("create table written_after_the_backup (id int)")

    env = production_env(DATABASE_URL=empty_database, **UNUSED_LOCAL_DATABASE)
    said = run([RESTORE, "--replace", str(dump)], env=env).stdout

    assert "restored" in said
    assert count_rows(empty_database, "bookings_booking") == 1
    with psycopg.connect(empty_database) as conn:
        assert conn.execute("select to_regclass('public.written_after_the_backup')").fetchone() == (None,)
        assert conn.execute("select count(*) from pg_extension where extname = 'btree_gist'").fetchone() == (1,)
    assert "No planned migration operations" in manage(
        "migrate", "--check", "--plan", env=production_env(DATABASE_URL=empty_database)
    ).stdout


def test_a_replace_that_breaks_off_midway_leaves_the_old_data(
    workshop, lift, oil_change, client_ivan, source_url, empty_database, tmp_path
):
    dump = _a_booking_backed_up_and_restored(workshop, oil_change, client_ivan, source_url, empty_database, tmp_path)
    with psycopg.connect(empty_database) as conn:
        conn.execute("create table written_after_the_backup (id int)")
    # The table of contents survives, so --check passes; the data behind it is cut off.
    truncated = tmp_path / "truncated.dump"
    truncated.write_bytes(dump.read_bytes()[:-32])
    restore(truncated, empty_database, "--check")

    result = restore(truncated, empty_database, "--replace", check=False)

    assert result.returncode != 0
    assert "nothing changed" in result.stderr and "end of file" in result.stderr
    assert count_rows(empty_database, "written_after_the_backup") == 0, "the old data is all there"
    assert count_rows(empty_database, "bookings_booking") == 1


def media_folder(root: Path) -> Path:
    """A media folder as the app leaves it: an import file and its rejected rows."""
    media = root / "media"
    (media / "imports" / "rejected" / "2026" / "01").mkdir(parents=True)
    (media / "imports" / "2026" / "01").mkdir(parents=True)
    (media / "imports" / "2026" / "01" / "clients.xlsx").write_bytes(b"the uploaded file")
    (media / "imports" / "rejected" / "2026" / "01" / "rejected.xlsx").write_bytes(b"the rejected rows")
    return media


def files_in(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in folder.rglob("*") if path.is_file()}


def test_backup_archives_the_media_folder_beside_the_dump_with_the_same_name(source_url, tmp_path):
    media = media_folder(tmp_path)
    backups = tmp_path / "backups"

    said = backup(backups, source_url, media=media).stdout

    dump, archive = dumps_in(backups)
    assert archive == dump.removesuffix(".dump") + ".media.tar.gz"
    assert f"wrote {backups / archive}" in said
    with tarfile.open(backups / archive) as tar:
        names = {name.removeprefix("./") for name in tar.getnames()}
    assert "imports/rejected/2026/01/rejected.xlsx" in names and "imports/2026/01/clients.xlsx" in names
    assert (backups / archive).stat().st_mode & 0o077 == 0, "clients' files: readable by the owner only"


def test_rotation_removes_a_dump_together_with_its_media_archive(source_url, tmp_path):
    media = media_folder(tmp_path)
    backups = tmp_path / "backups"
    backups.mkdir()
    for day in ("01", "02"):
        (backups / f"sto-202001{day}-033000.dump").write_bytes(b"an old dump")
        (backups / f"sto-202001{day}-033000.media.tar.gz").write_bytes(b"its media")

    backup(backups, source_url, keep=2, media=media)

    files = dumps_in(backups)
    assert not any(name.startswith("sto-20200101") for name in files)
    assert "sto-20200102-033000.media.tar.gz" in files and len(files) == 4


def test_a_backup_without_a_media_folder_saves_the_database_and_says_so(source_url, tmp_path):
    result = backup(tmp_path / "backups", source_url)

    [dump] = dumps_in(tmp_path / "backups")
    assert dump.endswith(".dump")
    assert "uploaded files are not in this backup" in result.stderr


def test_restore_media_replaces_the_folder_contents_with_the_archive(source_url, tmp_path):
    media = media_folder(tmp_path)
    backups = tmp_path / "backups"
    backup(backups, source_url, media=media)
    archive = backups / dumps_in(backups)[1]
    volume = tmp_path / "volume"
    (volume / "imports").mkdir(parents=True)
    (volume / "imports" / "uploaded-after-the-backup.xlsx").write_bytes(b"newer")

    said = run([RESTORE, "--media", str(archive), str(volume)], env=production_env()).stdout

    assert files_in(volume) == files_in(media)
    assert "now holds the files" in said


def test_restore_media_refuses_a_broken_archive_and_leaves_the_folder(tmp_path):
    archive = tmp_path / "sto-20260101-033000.media.tar.gz"
    archive.write_bytes(b"not gzip")
    volume = media_folder(tmp_path)
    before = files_in(volume)

    result = run([RESTORE, "--media", str(archive), str(volume)], env=production_env(), check=False)

    assert result.returncode == 2
    assert "not a media archive" in result.stderr
    assert files_in(volume) == before
    result = run([RESTORE, "--check", str(archive)], env=production_env(), check=False)
    assert result.returncode == 2


def test_restore_stack_restores_the_media_archive_beside_the_dump(tmp_path):
    dump = tmp_path / "sto-20260101-033000.dump"
    dump.write_text("a dump")
    archive = tmp_path / "sto-20260101-033000.media.tar.gz"
    archive.write_text("its media")

    result, calls = restore_stack(tmp_path, dump)

    assert result.returncode == 0, result.stderr
    steps = [call for call in calls if " run " in call]
    assert steps[0].endswith("--check /restore/backup.dump /restore/backup.media.tar.gz")
    assert f"{archive}:/restore/backup.media.tar.gz:ro" in steps[0]
    assert "--replace /restore/backup.dump" in steps[-2]
    assert "--volume media:/restore/media " in steps[-1]
    assert steps[-1].endswith("restore.sh backup --media /restore/backup.media.tar.gz /restore/media")


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("BACKUP_TIME", "25:00", "HH:MM"),
        ("BACKUP_TIME", "3:5", "HH:MM"),
        ("BACKUP_TIME", "half past three", "HH:MM"),
        ("BACKUP_KEEP", "abc", "whole number"),
        ("BACKUP_KEEP", "0", "whole number"),
    ],
)
def test_the_daily_service_refuses_a_bad_setting_at_start_naming_it(name, value, expected, tmp_path):
    env = production_env(DATABASE_URL="", BACKUP_DIR=str(tmp_path), BACKUP_TIME="03:30", BACKUP_KEEP="14")
    env[name] = value

    # A good setting would sleep until 03:30: the timeout fails the test instead of hanging it.
    result = subprocess.run([BACKUP, "--daily"], env=env, capture_output=True, text=True, timeout=10)

    assert result.returncode == 2
    assert name in result.stderr and expected in result.stderr and f"'{value}'" in result.stderr
    assert "daily at" not in result.stdout, "it stopped before the loop"
    assert dumps_in(tmp_path) == []


def test_the_daily_service_starts_with_good_settings(tmp_path):
    env = production_env(DATABASE_URL="", BACKUP_DIR=str(tmp_path), BACKUP_TIME="3:30", BACKUP_KEEP="7")
    process = subprocess.Popen([BACKUP, "--daily"], env=env, stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert process.stdout.readline().startswith("backup: daily at 3:30")
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
