"""Of N concurrent attempts at the last free places, exactly as many win as there are places.

Real threads, each with its own PostgreSQL connection, released together by a barrier.
"""

import threading
import zoneinfo

import pytest
from django.db import connection, connections

from bookings.errors import SlotTaken
from bookings.models import Booking, BookingChannel
from bookings.services import booking_create
from tests.conftest import next_weekday
from tests.factories import BayFactory, ClientFactory, ServiceFactory, WorkshopFactory

MSK = zoneinfo.ZoneInfo("Europe/Moscow")


def race(attempts: int, workshop, service, starts_at) -> tuple[list[Booking], list[Exception]]:
    clients = [ClientFactory() for _ in range(attempts)]
    barrier = threading.Barrier(attempts)
    won: list[Booking] = []
    lost: list[Exception] = []
    lock = threading.Lock()

    def attempt(client):
        try:
            barrier.wait()
            booking = booking_create(
                workshop=workshop, service=service, client=client, starts_at=starts_at, channel=BookingChannel.TELEGRAM
            )
            with lock:
                won.append(booking)
        except Exception as exc:  # collected and asserted below
            with lock:
                lost.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return won, lost


@pytest.fixture
def branch(transactional_db):
    assert connection.vendor == "postgresql"
    workshop = WorkshopFactory()
    service = ServiceFactory(workshops=[workshop])
    return workshop, service


@pytest.mark.slow
def test_twenty_concurrent_attempts_at_the_last_place_make_exactly_one_booking(branch):
    workshop, service = branch
    BayFactory(workshop=workshop)
    starts = next_weekday(2, MSK, 15)
    won, lost = race(20, workshop, service, starts)
    assert len(won) == 1
    assert len(lost) == 19 and all(isinstance(exc, SlotTaken) for exc in lost), lost
    assert Booking.objects.filter(starts_at=starts).count() == 1


@pytest.mark.slow
def test_with_three_bays_free_twenty_attempts_make_three_bookings_on_three_bays(branch):
    workshop, service = branch
    bays = {BayFactory(workshop=workshop).pk for _ in range(3)}
    starts = next_weekday(2, MSK, 15)
    won, lost = race(20, workshop, service, starts)
    assert len(won) == 3
    assert all(isinstance(exc, SlotTaken) for exc in lost) and len(lost) == 17
    stored = list(Booking.objects.filter(starts_at=starts).values_list("bay_id", flat=True))
    assert sorted(stored) == sorted(bays), "each bay used exactly once"


def test_the_database_itself_refuses_an_overlap_written_around_the_engine(branch):
    """The exclusion constraint is the last line: even a raw insert cannot double-book a bay."""
    from django.db import IntegrityError, transaction

    from tests.factories import BookingFactory

    workshop, service = branch
    bay = BayFactory(workshop=workshop)
    starts = next_weekday(2, MSK, 15)
    BookingFactory(workshop=workshop, bay=bay, service=service, starts_at=starts, ends_at=starts.replace(hour=16))
    with pytest.raises(IntegrityError, match="booking_no_overlap_on_bay"), transaction.atomic():
        BookingFactory(
            workshop=workshop, bay=bay, service=service,
            starts_at=starts.replace(minute=30), ends_at=starts.replace(hour=17),
        )
    assert Booking.objects.count() == 1
