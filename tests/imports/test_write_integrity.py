"""The bulk writer turns PostgreSQL's per-row foreign-key checks off where the role may: what it
writes must still refer only to rows that exist, and a role without the right must import the same."""

import os

import pytest
from django.apps import apps
from django.db import DatabaseError, connection, transaction

from bookings.models import Booking, BookingChannel, BookingHistory
from clients.models import Client, ClientPhone, Vehicle
from imports.engine import run_import
from tests.factories import ClientFactory, VehicleFactory
from workshops.db import foreign_key_checks_skipped, lock_against_deletion, next_ids
from workshops.models import Workshop

FILE = (
    "ФИО;Телефон;Автомобиль;Госномер;VIN;Дата последнего визита\n"
    "Иван Петров;89121234567;Lada Vesta;А123ВС77;XTA21099043012345;10.01.2024\n"
    "Пётр Иванов;+7 922 765-43-21;Kia Rio;В456ОР96;;11.02.2024\n"
    "Пётр Иванов;8 (922) 765-43-21;Kia Rio;В456ОР96;;12.03.2024\n"
    "Анна Смирнова;89030001122;Toyota Camry;Е001КХ777;;01.03.2024\n"
)
TABLES = {"clients_client", "clients_clientphone", "clients_client_workshops", "clients_vehicle",
          "bookings_booking", "bookings_bookinghistory"}


def dangling_references() -> list[str]:
    """Every foreign key of the tables an import writes, checked by an anti-join: what a row refers to exists."""
    found = []
    with connection.cursor() as cursor:
        for model in apps.get_models(include_auto_created=True):
            if model._meta.db_table not in TABLES:
                continue
            for field in model._meta.concrete_fields:
                if not field.is_relation:
                    continue
                target = field.related_model._meta.db_table
                cursor.execute(f"SELECT count(*) FROM {model._meta.db_table} t WHERE t.{field.column} IS NOT NULL "
                               f"AND NOT EXISTS (SELECT 1 FROM {target} r WHERE r.id = t.{field.column})")
                if count := cursor.fetchone()[0]:
                    found.append(f"{model._meta.db_table}.{field.column}: {count}")
    return found


def csv(text: str) -> bytes:
    return text.encode("cp1251")


@pytest.fixture
def known_client_with_car(branch):
    client = ClientFactory(name="Анна Смирнова", phone="+79030001122")
    return VehicleFactory(client=client, plate="Е001КХ777", make="Toyota", model="Camry")


@pytest.fixture
def role_without_superuser(db):
    """The connection acts as a role that is not a superuser (like a managed database's owner), for this test."""
    role = f"sto_plain_{os.getpid()}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {role} NOSUPERUSER")  # rolled back with the test's transaction
        cursor.execute(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}")
        cursor.execute(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {role}")
        cursor.execute(f"SET LOCAL ROLE {role}")
    yield role


def _counts() -> dict[str, int]:
    link = Client.workshops.through
    return {"clients": Client.objects.count(), "phones": ClientPhone.objects.count(), "links": link.objects.count(),
            "vehicles": Vehicle.objects.count(),
            "visits": Booking.objects.filter(channel=BookingChannel.IMPORT).count(),
            "history": BookingHistory.objects.count()}


def test_an_import_refers_only_to_rows_that_exist(branch, known_client_with_car):
    result = run_import(data=csv(FILE), filename="c.csv", workshop=branch)

    assert result.summary["clients_created"] == 2
    assert _counts() == {"clients": 3, "phones": 3, "links": 3, "vehicles": 3, "visits": 4, "history": 4}
    assert Booking.objects.filter(vehicle=known_client_with_car).count() == 1  # a known car, not a new one
    assert dangling_references() == []


def test_a_role_that_may_not_skip_the_checks_imports_the_same(branch, known_client_with_car, role_without_superuser):
    with connection.cursor() as cursor, foreign_key_checks_skipped(cursor) as skipped:
        pass
    assert skipped is False

    result = run_import(data=csv(FILE), filename="c.csv", workshop=branch)

    assert result.summary["clients_created"] == 2
    assert _counts() == {"clients": 3, "phones": 3, "links": 3, "vehicles": 3, "visits": 4, "history": 4}
    assert dangling_references() == []


def _phone_of_nobody() -> None:
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO clients_clientphone (client_id, number, extension, position) "
                       "VALUES (-1, '+79990000000', '', 0)")
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # Django's keys are checked at commit otherwise


def test_the_checks_are_off_only_inside_the_block(db):
    with transaction.atomic(), connection.cursor() as cursor:
        with foreign_key_checks_skipped(cursor) as skipped:
            assert skipped is True  # the suite's role is a superuser
            with transaction.atomic():
                _phone_of_nobody()  # not checked here
                transaction.set_rollback(True)
        with pytest.raises(DatabaseError, match="foreign key"), transaction.atomic():
            _phone_of_nobody()


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_checks_stay_on():
    with connection.cursor() as cursor, foreign_key_checks_skipped(cursor) as skipped:
        assert skipped is False
        cursor.execute("SHOW session_replication_role")
        assert cursor.fetchone()[0] == "origin"


def test_the_checks_stay_on_for_a_role_that_may_not_skip_them(role_without_superuser):
    with connection.cursor() as cursor, foreign_key_checks_skipped(cursor) as skipped:
        assert skipped is False
        with pytest.raises(DatabaseError, match="foreign key"), transaction.atomic():
            _phone_of_nobody()


def test_locking_rows_against_deletion_says_when_one_is_gone(branch):
    other = Workshop.objects.create(name="Другой филиал", slug="other")
    with connection.cursor() as cursor:
        assert lock_against_deletion(cursor, Workshop, [branch.pk, other.pk]) is True
        assert lock_against_deletion(cursor, Workshop, [branch.pk, 10**9]) is False
        assert lock_against_deletion(cursor, Workshop, []) is True


def test_fresh_ids_are_a_range_or_else_the_numbers_taken(db):
    with connection.cursor() as cursor:
        ids = next_ids(cursor, Vehicle, 5)
        assert isinstance(ids, range) and len(ids) == 5
        assert next_ids(cursor, Vehicle, 0) == range(0)
        # Another session taking numbers in between looks like a sequence that skips some.
        cursor.execute("SELECT pg_get_serial_sequence('clients_vehicle', 'id')")
        cursor.execute(f"ALTER SEQUENCE {cursor.fetchone()[0]} INCREMENT BY 3")
        ids = next_ids(cursor, Vehicle, 4)
    assert list(ids) == [ids[0], ids[0] + 3, ids[0] + 6, ids[0] + 9]
