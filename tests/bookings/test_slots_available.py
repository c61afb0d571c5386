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


def test_free_bays_of_every_slot_agree_with_a_check_of_each_booking(workshop, oil_change):
    """The sweep against brute force on a crowded day: back-to-back, long, cancelled and excluded bookings."""
    bays = [BayFactory(workshop=workshop, name=f"П{i}") for i in range(3)]
    long_job = ServiceFactory(duration_minutes=150, workshops=[workshop])
    day = next_weekday(2, MSK, 9)
    layout = [  # (bay, start hour, minutes, status)
        (0, 9, 60, "new"), (0, 10, 60, "confirmed"), (0, 12, 30, "new"), (0, 15, 180, "confirmed"),
        (1, 9.5, 90, "new"), (1, 11, 120, "cancelled"), (1, 14, 60, "completed"), (1, 16, 30, "new"),
        (2, 11.5, 30, "new"), (2, 17, 120, "new"),
    ]
    made = [
        BookingFactory(workshop=workshop, bay=bays[b], service=oil_change, status=status,
                       starts_at=day + timedelta(hours=hour - 9), ends_at=day + timedelta(hours=hour - 9, minutes=minutes))
        for b, hour, minutes, status in layout
    ]
    excluded = made[1]
    for service in (oil_change, long_job):
        for exclude in (None, excluded.pk):
            slots = slots_available(workshop=workshop, service=service, date_from=day.date(), days=1,
                                    channel=BookingChannel.PHONE, exclude_booking_id=exclude)
            offered = {s.starts_at: s.bay_ids for s in slots}
            active = [m for m in made if m.status in ("new", "confirmed") and m.pk != exclude]
            moment = day
            while moment < day + timedelta(hours=10):
                end = moment + timedelta(minutes=service.duration_minutes)
                free = tuple(bay.pk for bay in bays if not any(
                    m.bay_id == bay.pk and m.starts_at < end and m.ends_at > moment for m in active))
                in_hours = (end <= day + timedelta(hours=4)) or (moment >= day + timedelta(hours=5) and end <= day + timedelta(hours=10))
                expected = free if in_hours and free else None
                assert offered.get(moment) == expected, (service.duration_minutes, exclude, moment.time())
                moment += timedelta(minutes=30)
