"""A client's first visit (``Client.first_visit_at``): the start of their earliest completed visit,
kept by every service that records a completed visit (the owner reports count returning clients by it)."""

import zoneinfo
from datetime import date, datetime, time, timedelta

import pytest

from bookings.errors import TransitionNotAllowed
from bookings.models import Booking, BookingStatus
from bookings.services import (
    booking_create,
    booking_import_visit,
    booking_import_visits_bulk,
    booking_import_visits_copy,
    booking_transition,
    clients_first_visit_refresh,
)
from tests.conftest import next_weekday
from tests.factories import BookingFactory, ClientFactory

MSK = zoneinfo.ZoneInfo("Europe/Moscow")


def first_visit(client) -> datetime | None:
    client.refresh_from_db(fields=["first_visit_at"])
    return client.first_visit_at


def visit(workshop, service, client, starts_at: datetime, to_status: str = BookingStatus.COMPLETED) -> Booking:
    """A booking made through the engine and marked once its time has passed."""
    booking = booking_create(workshop=workshop, service=service, client=client, starts_at=starts_at, channel="phone")
    booking_transition(booking=booking, to_status=BookingStatus.CONFIRMED)
    booking_transition(booking=booking, to_status=to_status, now=starts_at + timedelta(hours=2))
    return booking


def noon(day: date) -> datetime:
    return datetime.combine(day, time(12), tzinfo=MSK)


def test_completing_a_clients_first_visit_records_when_it_was(workshop, lift, oil_change, client_ivan):
    assert first_visit(client_ivan) is None
    booking = visit(workshop, oil_change, client_ivan, next_weekday(1, MSK, 10))

    assert first_visit(client_ivan) == booking.starts_at


def test_a_later_visit_keeps_the_first_and_an_earlier_one_completed_late_takes_its_place(
    workshop, lift, oil_change, client_ivan
):
    earlier = booking_create(workshop=workshop, service=oil_change, client=client_ivan,
                             starts_at=next_weekday(1, MSK, 10), channel="web")
    booking_transition(booking=earlier, to_status=BookingStatus.CONFIRMED)
    later = visit(workshop, oil_change, client_ivan, next_weekday(1, MSK, 10, weeks=1))
    assert first_visit(client_ivan) == later.starts_at

    # The earlier visit is marked done only after the later one was.
    booking_transition(booking=earlier, to_status=BookingStatus.COMPLETED, now=later.starts_at + timedelta(hours=3))
    assert first_visit(client_ivan) == earlier.starts_at

    visit(workshop, oil_change, client_ivan, next_weekday(1, MSK, 10, weeks=2))
    assert first_visit(client_ivan) == earlier.starts_at


@pytest.mark.parametrize("status", [BookingStatus.NO_SHOW, BookingStatus.CANCELLED])
def test_a_no_show_or_a_cancellation_is_not_a_visit(workshop, lift, oil_change, client_ivan, status):
    visit(workshop, oil_change, client_ivan, next_weekday(1, MSK, 10), to_status=status)

    assert first_visit(client_ivan) is None


def test_a_completed_visit_cannot_be_undone_so_its_date_stays(workshop, lift, oil_change, client_ivan):
    booking = visit(workshop, oil_change, client_ivan, next_weekday(1, MSK, 10))

    for status in BookingStatus.values:
        with pytest.raises(TransitionNotAllowed):
            booking_transition(booking=booking, to_status=status, now=booking.starts_at + timedelta(days=1))
    assert first_visit(client_ivan) == booking.starts_at


def test_imported_history_moves_the_first_visit_back_but_never_forward(workshop, lift, oil_change, client_ivan):
    booking = visit(workshop, oil_change, client_ivan, next_weekday(1, MSK, 10))

    booking_import_visit(workshop=workshop, client=client_ivan, service=oil_change, visited_on=date(2024, 6, 10))
    assert first_visit(client_ivan) == noon(date(2024, 6, 10))

    booking_import_visit(workshop=workshop, client=client_ivan, service=oil_change, visited_on=date(2025, 1, 15))
    assert first_visit(client_ivan) == noon(date(2024, 6, 10))
    assert booking.starts_at > noon(date(2024, 6, 10))


@pytest.mark.parametrize("record", [booking_import_visits_bulk, booking_import_visits_copy])
def test_a_file_of_visits_records_each_clients_earliest(workshop, lift, oil_change, record):
    newcomer, regular, known_since_2020 = ClientFactory(), ClientFactory(), ClientFactory()
    BookingFactory(workshop=workshop, bay=lift, service=oil_change, client=known_since_2020,
                   starts_at=noon(date(2020, 3, 2)), ends_at=noon(date(2020, 3, 2)) + timedelta(hours=1),
                   status=BookingStatus.COMPLETED, channel="import")
    clients_first_visit_refresh(client_ids=[known_since_2020.pk])

    created = record(workshop=workshop, service=oil_change, visits=[
        (newcomer.pk, None, date(2024, 5, 1)),
        (regular.pk, None, date(2024, 9, 1)),
        (regular.pk, None, date(2023, 2, 1)),  # earlier, later in the file
        (regular.pk, None, date(2024, 1, 1)),
        (known_since_2020.pk, None, date(2024, 5, 1)),
    ])

    assert created == 5
    assert first_visit(newcomer) == noon(date(2024, 5, 1))
    assert first_visit(regular) == noon(date(2023, 2, 1))
    assert first_visit(known_since_2020) == noon(date(2020, 3, 2))


def test_clients_created_with_their_first_visit_get_their_visits_and_keep_it(workshop, lift, oil_change):
    """The importer writes a new client's first visit with the client and says so (``new_client_ids``)."""
    created_now, known = ClientFactory(first_visit_at=noon(date(2023, 2, 1))), ClientFactory()

    created = booking_import_visits_copy(workshop=workshop, service=oil_change, new_client_ids={created_now.pk},
                                         visits=[(created_now.pk, None, date(2024, 5, 1)),
                                                 (created_now.pk, None, date(2023, 2, 1)),
                                                 (known.pk, None, date(2024, 9, 1))])

    assert created == 3
    assert first_visit(created_now) == noon(date(2023, 2, 1))
    assert first_visit(known) == noon(date(2024, 9, 1))
    assert workshop in known.workshops.all(), "a known client is linked to the branch of their visit"
    copied = Booking.objects.filter(client=created_now).order_by("starts_at")
    assert [b.starts_at for b in copied] == [noon(date(2023, 2, 1)), noon(date(2024, 5, 1))]
    assert {(b.status, b.channel, b.bay, b.ends_at - b.starts_at) for b in copied} == {
        (BookingStatus.COMPLETED, "import", lift, timedelta(minutes=oil_change.duration_minutes))}
    assert [(h.event, h.to_status, h.actor, h.new_starts_at) for b in copied for h in b.history.all()] == [
        ("created", BookingStatus.COMPLETED, "Импорт", b.starts_at) for b in copied]


def test_the_refresh_works_the_first_visits_out_from_the_bookings(workshop, lift, oil_change):
    """For rows written without the services (the demo's past bookings, the migration adding the field)."""
    came, never_came = ClientFactory(), ClientFactory()
    for starts_at, status in ((noon(date(2024, 2, 1)), BookingStatus.NO_SHOW),
                              (noon(date(2024, 3, 1)), BookingStatus.COMPLETED),
                              (noon(date(2024, 4, 1)), BookingStatus.COMPLETED)):
        BookingFactory(workshop=workshop, bay=lift, service=oil_change, client=came, starts_at=starts_at,
                       ends_at=starts_at + timedelta(hours=1), status=status)
    BookingFactory(workshop=workshop, bay=lift, service=oil_change, client=never_came,
                   starts_at=noon(date(2024, 5, 1)), ends_at=noon(date(2024, 5, 1)) + timedelta(hours=1),
                   status=BookingStatus.CANCELLED)

    clients_first_visit_refresh()

    assert (first_visit(came), first_visit(never_came)) == (noon(date(2024, 3, 1)), None)
