"""slots_available: free start times in local time, within every rule, in two queries."""

import zoneinfo
from datetime import datetime, time, timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bookings.availability import slots_available
from bookings.errors import BookingRuleError
from bookings.models import BookingChannel
from bookings.services import booking_create, check_slot_rules
from tests.conftest import next_weekday
from tests.factories import BayFactory, BookingFactory, ClientFactory, ServiceFactory, WorkshopFactory
from workshops.models import BayKind, ClosedDay

MSK = zoneinfo.ZoneInfo("Europe/Moscow")


def day_slots(slots, day):
    return [s.starts_at.strftime("%H:%M") for s in slots if s.starts_at.date() == day]


def test_a_working_day_offers_the_grid_minus_lunch(workshop, lift, oil_change):
    tuesday = next_weekday(1, MSK).date()
    slots = slots_available(workshop=workshop, service=oil_change, date_from=tuesday, days=1)
    assert day_slots(slots, tuesday) == [
        "09:00", "09:30", "10:00", "10:30", "11:00", "11:30", "12:00",
        "14:00", "14:30", "15:00", "15:30", "16:00", "16:30", "17:00", "17:30", "18:00",
    ]
    assert all(s.starts_at.tzinfo == MSK or s.starts_at.utcoffset() == timedelta(hours=3) for s in slots)


def test_booked_time_disappears_and_closed_days_offer_nothing(workshop, lift, oil_change):
    tuesday = next_weekday(1, MSK, 10)
    booking_create(workshop=workshop, service=oil_change, client=ClientFactory(), starts_at=tuesday, channel="web")
    ClosedDay.objects.create(workshop=workshop, date=tuesday.date() + timedelta(days=1))
    slots = slots_available(workshop=workshop, service=oil_change, date_from=tuesday.date(), days=2)
    times = day_slots(slots, tuesday.date())
    assert "09:00" in times and "09:30" not in times and "10:00" not in times and "10:30" not in times
    assert "11:00" in times
    assert day_slots(slots, tuesday.date() + timedelta(days=1)) == []


def test_sunday_is_a_day_off(workshop, lift, oil_change):
    sunday = next_weekday(6, MSK).date()
    assert day_slots(slots_available(workshop=workshop, service=oil_change, date_from=sunday, days=1), sunday) == []


def test_a_slot_is_free_while_any_suitable_bay_is(workshop, lift, oil_change):
    second = BayFactory(workshop=workshop, name="Подъёмник 2")
    BayFactory(workshop=workshop, name="Мойка", kind=BayKind.WASH)
    starts = next_weekday(1, MSK, 10)
    booking_create(workshop=workshop, service=oil_change, client=ClientFactory(), starts_at=starts, channel="web")
    slot = next(s for s in slots_available(workshop=workshop, service=oil_change, date_from=starts.date(), days=1)
                if s.starts_at == starts)
    assert slot.bay_ids == (second.pk,)


def test_it_never_offers_more_than_the_horizon_or_sooner_than_the_lead_time(workshop, lift, oil_change):
    now = timezone.now()
    slots = slots_available(workshop=workshop, service=oil_change, days=60)
    assert slots
    assert min(s.starts_at for s in slots) >= now + timedelta(minutes=workshop.min_lead_minutes)
    last_day = now.astimezone(MSK).date() + timedelta(days=workshop.horizon_days - 1)
    assert max(s.starts_at.date() for s in slots) <= last_day
    telegram = slots_available(workshop=workshop, service=oil_change, days=60, channel=BookingChannel.TELEGRAM)
    assert len(telegram) == len(slots)
    workshop.telegram_extra_days = 7
    telegram = slots_available(workshop=workshop, service=oil_change, days=60, channel=BookingChannel.TELEGRAM)
    assert max(s.starts_at.date() for s in telegram) > last_day


def test_every_offered_slot_passes_the_engines_rules(workshop, lift, oil_change):
    """The generator and the checker agree: what is offered can be booked."""
    long_job = ServiceFactory(duration_minutes=150, workshops=[workshop])
    for service in (oil_change, long_job):
        for slot in slots_available(workshop=workshop, service=service, days=14):
            check_slot_rules(workshop=workshop, service=service, starts_at=slot.starts_at, channel="web")


def test_times_between_offered_slots_are_refused(workshop, lift, oil_change):
    tuesday = next_weekday(1, MSK).date()
    offered = {s.starts_at for s in slots_available(workshop=workshop, service=oil_change, date_from=tuesday, days=1)}
    moment = datetime.combine(tuesday, time(0), tzinfo=MSK)
    refused = 0
    for _ in range(48):
        if moment not in offered:
            try:
                check_slot_rules(workshop=workshop, service=oil_change, starts_at=moment, channel="web")
            except BookingRuleError:
                refused += 1
            else:
                raise AssertionError(f"{moment} is not offered but passes the rules")
        moment += timedelta(minutes=30)
    assert refused == 48 - len(offered)


def test_fourteen_days_cost_two_queries_whatever_the_bookings(workshop, oil_change):
    bays = [BayFactory(workshop=workshop, name=f"П{i}") for i in range(6)]
    start = next_weekday(0, MSK, 9)
    for day in range(12):
        for bay in bays:
            moment = start + timedelta(days=day)
            BookingFactory(workshop=workshop, bay=bay, service=oil_change, starts_at=moment, ends_at=moment + timedelta(hours=1))
    with CaptureQueriesContext(connection) as queries:
        slots = slots_available(workshop=workshop, service=oil_change, days=14)
    assert len(queries) == 2
    assert slots


def test_a_service_not_offered_at_the_branch_has_no_slots(workshop, lift):
    other = ServiceFactory(workshops=[WorkshopFactory()])
    assert slots_available(workshop=workshop, service=other, days=14) == []


def test_slots_are_computed_in_the_branch_time_zone(db):
    vladivostok = WorkshopFactory(timezone="Asia/Vladivostok")
    BayFactory(workshop=vladivostok)
    service = ServiceFactory(workshops=[vladivostok])
    tz = zoneinfo.ZoneInfo("Asia/Vladivostok")
    tuesday = next_weekday(1, tz).date()
    slots = slots_available(workshop=vladivostok, service=service, date_from=tuesday, days=1)
    first = slots[0].starts_at
    assert first.astimezone(tz).strftime("%H:%M") == "09:00"
    assert first.astimezone(zoneinfo.ZoneInfo("UTC")).strftime("%H:%M") == "23:00"
