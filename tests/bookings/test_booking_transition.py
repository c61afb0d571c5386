"""booking_transition and booking_reschedule: only allowed moves, each recorded."""

import zoneinfo
from datetime import timedelta

import pytest
from django.utils import timezone

from bookings.errors import BookingRuleError, SlotTaken, TransitionNotAllowed
from bookings.models import Booking, BookingHistory, BookingStatus
from bookings.services import booking_create, booking_reschedule, booking_transition
from tests.conftest import next_weekday
from tests.factories import BayFactory, BookingFactory, ClientFactory, UserFactory

MSK = zoneinfo.ZoneInfo("Europe/Moscow")


@pytest.fixture
def booking(workshop, lift, oil_change, client_ivan):
    return booking_create(
        workshop=workshop, service=oil_change, client=client_ivan, starts_at=next_weekday(1, MSK, 10), channel="web"
    )


def test_it_confirms_and_records_who_and_why(booking):
    manager = UserFactory(username="olga")
    booking_transition(booking=booking, to_status=BookingStatus.CONFIRMED, by_user=manager, reason="созвонились")
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED
    last = booking.history.last()
    assert (last.from_status, last.to_status, last.by_user, last.reason) == ("new", "confirmed", manager, "созвонились")


@pytest.mark.parametrize(
    ("path", "refused"),
    [
        ([], BookingStatus.COMPLETED),
        ([], BookingStatus.NO_SHOW),
        ([BookingStatus.CANCELLED], BookingStatus.CONFIRMED),
        ([BookingStatus.CANCELLED], BookingStatus.NEW),
        ([BookingStatus.CONFIRMED], BookingStatus.NEW),
    ],
)
def test_it_refuses_a_move_the_status_machine_does_not_have(booking, path, refused):
    for status in path:
        booking_transition(booking=booking, to_status=status)
    history_before = BookingHistory.objects.count()
    with pytest.raises(TransitionNotAllowed) as info:
        booking_transition(booking=booking, to_status=refused)
    assert "Нельзя" in info.value.message
    booking.refresh_from_db()
    assert booking.status == (path[-1] if path else BookingStatus.NEW)
    assert BookingHistory.objects.count() == history_before


def test_a_visit_cannot_be_marked_done_before_it_starts(booking):
    booking_transition(booking=booking, to_status=BookingStatus.CONFIRMED)
    with pytest.raises(TransitionNotAllowed) as info:
        booking_transition(booking=booking, to_status=BookingStatus.COMPLETED)
    assert info.value.code == "visit_not_started"


def test_a_past_confirmed_visit_can_be_completed_or_marked_no_show(workshop, lift, oil_change):
    past = timezone.now() - timedelta(days=1)
    done = BookingFactory(workshop=workshop, bay=lift, service=oil_change, starts_at=past, ends_at=past + timedelta(hours=1), status="confirmed")
    booking_transition(booking=done, to_status=BookingStatus.COMPLETED)
    missed = BookingFactory(workshop=workshop, bay=lift, service=oil_change, starts_at=past - timedelta(hours=2), ends_at=past - timedelta(hours=1), status="confirmed")
    booking_transition(booking=missed, to_status=BookingStatus.NO_SHOW)
    assert set(Booking.objects.values_list("status", flat=True)) == {"completed", "no_show"}


def test_a_stale_copy_cannot_act_on_an_old_status(booking):
    """Two managers opened the same booking; the second one's copy still says «new»."""
    stale = Booking.objects.get(pk=booking.pk)
    booking_transition(booking=booking, to_status=BookingStatus.CANCELLED)
    with pytest.raises(TransitionNotAllowed):
        booking_transition(booking=stale, to_status=BookingStatus.CONFIRMED)
    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.CANCELLED


def test_it_reschedules_to_a_free_time_and_records_both_times(booking):
    old = booking.starts_at
    new = old + timedelta(days=1, hours=2)
    moved = booking_reschedule(booking=booking, starts_at=new, actor="Клиент (Telegram)")
    assert moved.starts_at == new and moved.ends_at == new + timedelta(hours=1)
    event = moved.history.last()
    assert (event.event, event.old_starts_at, event.new_starts_at) == ("rescheduled", old, new)


def test_rescheduling_within_its_own_time_is_allowed(booking):
    """Moving 30 minutes later overlaps the booking's own old place, which is not a conflict."""
    moved = booking_reschedule(booking=booking, starts_at=booking.starts_at + timedelta(minutes=30))
    assert moved.bay_id == booking.bay_id


def test_it_refuses_to_reschedule_onto_a_taken_place(booking, workshop, oil_change):
    other = booking_create(
        workshop=workshop, service=oil_change, client=ClientFactory(), starts_at=booking.starts_at + timedelta(hours=2), channel="web"
    )
    with pytest.raises(SlotTaken):
        booking_reschedule(booking=booking, starts_at=other.starts_at)
    booking.refresh_from_db()
    assert booking.starts_at == next_weekday(1, MSK, 10)


def test_it_moves_to_another_bay_when_its_own_is_taken(booking, workshop, oil_change):
    second = BayFactory(workshop=workshop, name="Подъёмник 2")
    blocker = booking_create(
        workshop=workshop, service=oil_change, client=ClientFactory(), starts_at=booking.starts_at + timedelta(hours=4),
        channel="web", bay=booking.bay,
    )
    moved = booking_reschedule(booking=booking, starts_at=blocker.starts_at)
    assert moved.bay == second


def test_it_refuses_to_reschedule_a_cancelled_booking_or_into_a_closed_hour(booking):
    with pytest.raises(BookingRuleError) as info:
        booking_reschedule(booking=booking, starts_at=booking.starts_at.replace(hour=20))
    assert info.value.code == "outside_hours"
    booking_transition(booking=booking, to_status=BookingStatus.CANCELLED)
    with pytest.raises(TransitionNotAllowed):
        booking_reschedule(booking=booking, starts_at=booking.starts_at + timedelta(hours=1))
