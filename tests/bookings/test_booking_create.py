"""booking_create: the rules it enforces, and that a refusal writes nothing."""

import zoneinfo
from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone

from bookings.errors import BookingRuleError, SlotTaken
from bookings.models import Booking, BookingChannel, BookingHistory, BookingStatus
from bookings.services import booking_create
from tests.conftest import next_weekday
from tests.factories import (
    BayFactory,
    ClientFactory,
    ServiceFactory,
    UserFactory,
    VehicleFactory,
    WorkshopFactory,
)
from workshops.models import BayKind, ClosedDay

MSK = zoneinfo.ZoneInfo("Europe/Moscow")


def book(workshop, service, client, starts_at, channel=BookingChannel.WEB, **kwargs):
    return booking_create(workshop=workshop, service=service, client=client, starts_at=starts_at, channel=channel, **kwargs)


def assert_refused(code, workshop, service, client, starts_at, channel=BookingChannel.WEB, **kwargs):
    before = (Booking.objects.count(), BookingHistory.objects.count())
    with pytest.raises(BookingRuleError) as info:
        book(workshop, service, client, starts_at, channel, **kwargs)
    assert info.value.code == code, info.value.message
    assert info.value.message  # a sentence for people
    assert (Booking.objects.count(), BookingHistory.objects.count()) == before
    return info.value


def test_it_books_a_free_slot_and_records_the_creation(workshop, lift, oil_change, client_ivan):
    starts = next_weekday(1, MSK, 10)
    booking = book(workshop, oil_change, client_ivan, starts)
    assert booking.status == BookingStatus.NEW
    assert booking.bay == lift
    assert booking.ends_at - booking.starts_at == timedelta(minutes=60)
    assert list(booking.history.values_list("event", "to_status")) == [("created", "new")]
    assert workshop in client_ivan.workshops.all()


def test_the_booking_it_returns_is_the_one_stored_with_who_made_it(workshop, lift, oil_change, client_ivan):
    manager = UserFactory()
    car = VehicleFactory(client=client_ivan)
    booking = book(workshop, oil_change, client_ivan, next_weekday(1, MSK, 10), channel=BookingChannel.PHONE,
                   vehicle=car, comment="  Стучит подвеска\x00 ", created_by=manager, actor="Ольга")
    stored = Booking.objects.get()
    fields = ("pk", "workshop_id", "bay_id", "service_id", "client_id", "vehicle_id", "starts_at", "ends_at",
              "status", "channel", "comment", "created_at", "created_by_id")
    assert [getattr(booking, f) for f in fields] == [getattr(stored, f) for f in fields]
    assert stored.comment == "Стучит подвеска"
    history = stored.history.get()
    assert (history.by_user, history.actor, history.new_starts_at) == (manager, "Ольга", stored.starts_at)
    booking.refresh_from_db()  # an ordinary saved instance


def test_a_second_booking_keeps_the_client_linked_to_the_branch_once(workshop, lift, oil_change, client_ivan):
    book(workshop, oil_change, client_ivan, next_weekday(1, MSK, 10))
    book(workshop, oil_change, client_ivan, next_weekday(1, MSK, 11))
    assert list(client_ivan.workshops.all()) == [workshop]


def test_it_rejects_a_taken_slot_with_alternatives(workshop, lift, oil_change, client_ivan):
    starts = next_weekday(1, MSK, 10)
    book(workshop, oil_change, client_ivan, starts)
    with pytest.raises(SlotTaken) as info:
        book(workshop, oil_change, ClientFactory(), starts + timedelta(minutes=30))
    assert info.value.code == "slot_taken"
    assert "занято" in info.value.message
    assert info.value.alternatives, "nearby free times are offered"
    assert starts + timedelta(minutes=30) not in info.value.alternatives
    assert Booking.objects.count() == 1


def test_it_allows_back_to_back_bookings_on_one_bay(workshop, lift, oil_change, client_ivan):
    starts = next_weekday(1, MSK, 10)
    first = book(workshop, oil_change, client_ivan, starts)
    second = book(workshop, oil_change, ClientFactory(), starts + timedelta(hours=1))
    assert first.bay == second.bay == lift
    assert first.ends_at == second.starts_at


def test_a_cancelled_booking_frees_its_place(workshop, lift, oil_change, client_ivan):
    from bookings.services import booking_transition

    starts = next_weekday(1, MSK, 10)
    first = book(workshop, oil_change, client_ivan, starts)
    booking_transition(booking=first, to_status=BookingStatus.CANCELLED, reason="передумал")
    again = book(workshop, oil_change, ClientFactory(), starts)
    assert again.bay == lift


def test_it_picks_a_bay_of_the_kind_the_service_needs(workshop, oil_change, client_ivan):
    BayFactory(workshop=workshop, name="Мойка", kind=BayKind.WASH)
    lift = BayFactory(workshop=workshop, name="Подъёмник", kind=BayKind.LIFT)
    booking = book(workshop, oil_change, client_ivan, next_weekday(2, MSK, 11))
    assert booking.bay == lift


def test_it_refuses_when_the_branch_has_no_bay_of_that_kind(workshop, oil_change, client_ivan):
    BayFactory(workshop=workshop, name="Мойка", kind=BayKind.WASH)
    assert_refused("no_suitable_bay", workshop, oil_change, client_ivan, next_weekday(2, MSK, 11))


def test_it_refuses_a_time_in_the_past(workshop, lift, oil_change, client_ivan):
    assert_refused("past_time", workshop, oil_change, client_ivan, timezone.now() - timedelta(days=1))


def test_it_refuses_a_time_sooner_than_the_lead_time(workshop, lift, oil_change, client_ivan):
    workshop.min_lead_minutes = 24 * 60 * 3
    workshop.save()
    assert_refused("too_soon", workshop, oil_change, client_ivan, _tomorrow_open(workshop))


def _tomorrow_open(workshop):
    """Tomorrow (or the day after, if tomorrow is Sunday) at 10:00 local."""
    day = timezone.now().astimezone(workshop.tz).date() + timedelta(days=1)
    if day.weekday() == 6:
        day += timedelta(days=1)
    return datetime.combine(day, time(10), tzinfo=workshop.tz)


def test_it_refuses_a_time_beyond_the_horizon(workshop, lift, oil_change, client_ivan):
    far = next_weekday(1, MSK, 10, weeks=3)
    error = assert_refused("beyond_horizon", workshop, oil_change, client_ivan, far)
    assert "до" in error.message


def test_staff_booking_by_phone_is_not_held_to_the_clients_horizon(workshop, lift, oil_change, client_ivan):
    far = next_weekday(1, MSK, 10, weeks=3)
    booking = book(workshop, oil_change, client_ivan, far, channel=BookingChannel.PHONE)
    assert booking.starts_at == far


def test_telegram_clients_get_extra_days(workshop, lift, oil_change, client_ivan):
    workshop.telegram_extra_days = 21
    workshop.save()
    far = next_weekday(1, MSK, 10, weeks=3)
    assert_refused("beyond_horizon", workshop, oil_change, client_ivan, far, channel=BookingChannel.WEB)
    assert book(workshop, oil_change, client_ivan, far, channel=BookingChannel.TELEGRAM).channel == "telegram"


def test_it_refuses_a_time_outside_hours(workshop, lift, oil_change, client_ivan):
    assert_refused("outside_hours", workshop, oil_change, client_ivan, next_weekday(1, MSK, 7))
    assert_refused("outside_hours", workshop, oil_change, client_ivan, next_weekday(1, MSK, 19))


def test_it_refuses_a_time_in_the_lunch_break(workshop, lift, oil_change, client_ivan):
    assert_refused("in_break", workshop, oil_change, client_ivan, next_weekday(1, MSK, 13, 30))


def test_it_refuses_a_service_that_would_run_into_the_break_or_past_closing(workshop, lift, client_ivan):
    long_job = ServiceFactory(name="Ремонт подвески", duration_minutes=180, workshops=[workshop])
    assert_refused("crosses_break", workshop, long_job, client_ivan, next_weekday(1, MSK, 11))
    error = assert_refused("crosses_closing", workshop, long_job, client_ivan, next_weekday(1, MSK, 17))
    assert "19:00" in error.message


def test_it_refuses_a_day_off_and_a_closed_day(workshop, lift, oil_change, client_ivan):
    assert_refused("day_off", workshop, oil_change, client_ivan, next_weekday(6, MSK, 10))
    tuesday = next_weekday(1, MSK, 10)
    ClosedDay.objects.create(workshop=workshop, date=tuesday.date(), reason="Инвентаризация")
    assert_refused("closed_day", workshop, oil_change, client_ivan, tuesday)


def test_it_refuses_a_service_not_offered_at_the_branch(workshop, lift, client_ivan):
    elsewhere = ServiceFactory(name="Кузовной ремонт", workshops=[WorkshopFactory()])
    assert_refused("service_not_offered", workshop, elsewhere, client_ivan, next_weekday(1, MSK, 10))


def test_it_refuses_a_time_off_the_grid(workshop, lift, oil_change, client_ivan):
    assert_refused("off_grid", workshop, oil_change, client_ivan, next_weekday(1, MSK, 10, 10))


def test_it_refuses_someone_elses_car(workshop, lift, oil_change, client_ivan):
    other_car = VehicleFactory()
    assert_refused("foreign_vehicle", workshop, oil_change, client_ivan, next_weekday(1, MSK, 10), vehicle=other_car)


def test_it_refuses_a_bay_that_does_not_fit_the_service(workshop, lift, oil_change, client_ivan):
    wash = BayFactory(workshop=workshop, name="Мойка", kind=BayKind.WASH)
    assert_refused("bay_unsuitable", workshop, oil_change, client_ivan, next_weekday(1, MSK, 10), bay=wash)


def test_it_books_the_bay_a_manager_clicked(workshop, lift, oil_change, client_ivan):
    second = BayFactory(workshop=workshop, name="Подъёмник 2")
    booking = book(workshop, oil_change, client_ivan, next_weekday(1, MSK, 10), channel=BookingChannel.PHONE, bay=second)
    assert booking.bay == second


def test_a_clicked_bay_that_is_taken_is_refused_even_if_another_is_free(workshop, lift, oil_change, client_ivan):
    BayFactory(workshop=workshop, name="Подъёмник 2")
    starts = next_weekday(1, MSK, 10)
    book(workshop, oil_change, client_ivan, starts, bay=lift)
    with pytest.raises(SlotTaken):
        book(workshop, oil_change, ClientFactory(), starts, bay=lift)
    assert Booking.objects.count() == 1


def test_a_branch_in_yekaterinburg_stores_ten_oclock_as_five_utc(db):
    ekb = WorkshopFactory(name="СТО Екатеринбург", timezone="Asia/Yekaterinburg")
    BayFactory(workshop=ekb)
    service = ServiceFactory(workshops=[ekb])
    tz = zoneinfo.ZoneInfo("Asia/Yekaterinburg")
    local_ten = next_weekday(2, tz, 10)
    booking = book(ekb, service, ClientFactory(), local_ten)
    booking.refresh_from_db()
    assert booking.starts_at.astimezone(zoneinfo.ZoneInfo("UTC")).time() == time(5, 0)
    assert booking.starts_at.astimezone(ekb.tz).strftime("%H:%M") == "10:00"
    assert str(booking).split(" · ")[0].endswith("10:00")


def test_the_same_instant_is_outside_hours_for_a_branch_two_hours_east(db):
    """08:00 Moscow is 10:00 in Yekaterinburg: open there, closed in Moscow."""
    ekb = WorkshopFactory(timezone="Asia/Yekaterinburg")
    BayFactory(workshop=ekb)
    service = ServiceFactory(workshops=[ekb])
    moscow_eight = next_weekday(2, MSK, 8)
    assert book(ekb, service, ClientFactory(), moscow_eight).starts_at.astimezone(ekb.tz).hour == 10
