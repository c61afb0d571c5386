"""Imports running at the same time as each other and as staff edits: every phone stays one
client, and nothing ends up referring to a row that is gone (the writer skips per-row
foreign-key checks, so its locks are what keeps this true)."""

import threading

import pytest
from django.db import IntegrityError, connections

from bookings.models import Booking, BookingChannel
from clients.models import Client, ClientPhone, Vehicle
from imports.engine import run_import
from tests.factories import BayFactory, ClientFactory, VehicleFactory, WorkshopFactory
from tests.imports.test_write_integrity import dangling_references

pytestmark = pytest.mark.django_db(transaction=True)

HEADER = "ФИО;Телефон;Автомобиль;Госномер;Дата последнего визита\n"


def rows(numbers: range, day: int) -> str:
    return "".join(f"Клиент {n};8 (912) {n // 10000:03d}-{n % 10000 // 100:02d}-{n % 100:02d};"
                   f"Lada Vesta;А{n % 1000:03d}ВС{77 + n // 1000};{day:02d}.03.2024\n" for n in numbers)


def in_threads(*jobs):
    """Run ``jobs`` at once, each in its own thread and database connection; the error of each (or None)."""
    barrier, errors = threading.Barrier(len(jobs)), [None] * len(jobs)

    def run(index, job):
        try:
            barrier.wait()
            job()
        except Exception as exc:  # reported to the test
            errors[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(index, job)) for index, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_two_branches_importing_overlapping_files_at_once_make_each_client_once():
    north, south = WorkshopFactory(slug="north"), WorkshopFactory(slug="south")
    BayFactory(workshop=north), BayFactory(workshop=south)
    north_file = (HEADER + rows(range(1000, 3000), 1)).encode("cp1251")
    south_file = (HEADER + rows(range(2000, 4000), 2)).encode("cp1251")

    assert in_threads(lambda: run_import(data=north_file, filename="n.csv", workshop=north),
                      lambda: run_import(data=south_file, filename="s.csv", workshop=south)) == [None, None]

    assert Client.objects.count() == 3000 and ClientPhone.objects.count() == 3000
    shared = Client.objects.filter(phones__number__startswith="+791200").filter(name__in=[f"Клиент {n}" for n in (2000, 2999)])
    assert {tuple(sorted(c.workshops.values_list("slug", flat=True))) for c in shared} == {("north", "south")}
    assert Booking.objects.filter(channel=BookingChannel.IMPORT).count() == 4000  # one visit per client and branch
    assert Vehicle.objects.count() == 3000  # the shared clients' cars are found by plate, not made twice
    assert dangling_references() == []


def test_staff_deleting_a_car_while_an_import_books_a_visit_on_it_leaves_nothing_dangling():
    """The import locks the car table, so it always completes. The deletion either comes first
    (the import then makes the car anew from its row) or waits for the import and is then
    refused by the database, the car now having a visit: the race of Django's own ``SET_NULL``,
    which looks for the car's bookings before the import has committed one."""
    branch = WorkshopFactory(slug="branch")
    BayFactory(workshop=branch)
    known = ClientFactory(name="Клиент 1000", phone="+79120001000")
    car = VehicleFactory(client=known, plate="А000ВС78")
    data = (HEADER + rows(range(1000, 3000), 1)).encode("cp1251")

    imported, deleted = in_threads(lambda: run_import(data=data, filename="c.csv", workshop=branch),
                                   lambda: Vehicle.objects.filter(pk=car.pk).delete())

    assert imported is None
    assert deleted is None or isinstance(deleted, IntegrityError)
    visit = Booking.objects.get(client=known, channel=BookingChannel.IMPORT)
    assert Vehicle.objects.filter(pk=car.pk).exists() == (deleted is not None)
    assert visit.vehicle is not None and visit.vehicle.client == known and visit.vehicle.plate == "А000ВС78"
    assert dangling_references() == []
