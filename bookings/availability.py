"""Where and when a service can be booked: the schedule of a branch and its free slots.

The whole 14-day answer costs two queries: the branch's schedule (weekly hours and closed
days, one UNION) and its suitable bays with their active bookings in the window (one
LEFT JOIN). The rest is an in-memory sweep.
"""

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import DateField, FilteredRelation, IntegerField, Q, TimeField, Value
from django.utils import timezone

from bookings.models import ACTIVE_STATUSES, BookingChannel
from workshops.models import Bay, ClosedDay, Service, Workshop, WorkingHours

# Staff booking a caller in by phone are not held to the client's lead time and horizon.
STAFF_CHANNELS = frozenset({BookingChannel.PHONE})
STAFF_HORIZON_DAYS = 365


@dataclass(frozen=True)
class Slot:
    """A free start time (aware, in the branch's time zone) and the bays free for it."""

    starts_at: datetime
    ends_at: datetime
    bay_ids: tuple[int, ...]


@dataclass
class DaySchedule:
    """One local date: open intervals (aware datetimes), or why it is closed."""

    day: date
    intervals: list[tuple[datetime, datetime]] = field(default_factory=list)
    closed_reason: str = ""


@dataclass(frozen=True)
class BookingWindow:
    """The earliest start allowed and the last local date allowed, for one channel."""

    earliest: datetime
    last_day: date


def booking_window(*, workshop: Workshop, channel: str, now: datetime | None = None) -> BookingWindow:
    now = now or timezone.now()
    lead_minutes, horizon_days = workshop.min_lead_minutes, workshop.horizon_days
    if channel == BookingChannel.TELEGRAM:
        horizon_days += workshop.telegram_extra_days
        if workshop.telegram_min_lead_minutes is not None:
            lead_minutes = workshop.telegram_min_lead_minutes
    elif channel in STAFF_CHANNELS:
        lead_minutes, horizon_days = 0, STAFF_HORIZON_DAYS
    today = now.astimezone(workshop.tz).date()
    return BookingWindow(earliest=now + timedelta(minutes=lead_minutes), last_day=today + timedelta(days=horizon_days - 1))


def _local(day: date, moment: time, workshop: Workshop) -> datetime:
    return datetime.combine(day, moment, tzinfo=workshop.tz)


def load_schedule(*, workshop: Workshop, first_day: date, last_day: date) -> dict[date, DaySchedule]:
    """The branch's open intervals for each local date in ``[first_day, last_day]`` (one query)."""
    # No ORDER BY in the parts of the UNION: SQLite (the demo) refuses it (the models' Meta.ordering).
    hours = WorkingHours.objects.filter(workshop=workshop).order_by().annotate(
        closed_on=Value(None, output_field=DateField()),
    ).values_list("weekday", "opens_at", "closes_at", "break_starts", "break_ends", "closed_on")
    closed = ClosedDay.objects.filter(workshop=workshop, date__range=(first_day, last_day)).order_by().annotate(
        weekday=Value(None, output_field=IntegerField()),
        opens_at=Value(None, output_field=TimeField()),
        closes_at=Value(None, output_field=TimeField()),
        break_starts=Value(None, output_field=TimeField()),
        break_ends=Value(None, output_field=TimeField()),
    ).values_list("weekday", "opens_at", "closes_at", "break_starts", "break_ends", "date")
    by_weekday: dict[int, tuple] = {}
    closed_days: set[date] = set()
    for weekday, opens, closes, break_starts, break_ends, closed_on in hours.union(closed, all=True):
        if closed_on is not None:
            closed_days.add(closed_on)
        else:
            by_weekday[weekday] = (opens, closes, break_starts, break_ends)

    schedule: dict[date, DaySchedule] = {}
    day = first_day
    while day <= last_day:
        entry = DaySchedule(day)
        row = by_weekday.get(day.weekday())
        if day in closed_days:
            entry.closed_reason = "closed_day"
        elif row is None:
            entry.closed_reason = "day_off"
        else:
            opens, closes, break_starts, break_ends = row
            if break_starts and break_ends:
                entry.intervals = [
                    (_local(day, opens, workshop), _local(day, break_starts, workshop)),
                    (_local(day, break_ends, workshop), _local(day, closes, workshop)),
                ]
            else:
                entry.intervals = [(_local(day, opens, workshop), _local(day, closes, workshop))]
        schedule[day] = entry
        day += timedelta(days=1)
    return schedule


def suitable_bays_q(service: Service) -> Q:
    q = Q(is_active=True)
    if service.bay_kind:
        q &= Q(kind=service.bay_kind)
    return q


def load_busy(
    *, workshop: Workshop, service: Service, start: datetime, end: datetime, exclude_booking_id: int | None = None
) -> dict[int, list[tuple[datetime, datetime]]]:
    """Suitable bays of the branch (only if it offers the service) → their active bookings in ``[start, end)``.

    One query: bays LEFT JOIN their overlapping active bookings. A bay without bookings
    maps to an empty list.
    """
    condition = Q(
        bookings__status__in=ACTIVE_STATUSES, bookings__starts_at__lt=end, bookings__ends_at__gt=start
    )
    if exclude_booking_id is not None:
        condition &= ~Q(bookings__pk=exclude_booking_id)
    rows = (
        Bay.objects.filter(suitable_bays_q(service), workshop=workshop, workshop__services=service)
        .annotate(active_booking=FilteredRelation("bookings", condition=condition))
        .values_list("id", "active_booking__starts_at", "active_booking__ends_at")
        .order_by("position", "id")
    )
    busy: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    for bay_id, starts_at, ends_at in rows:
        busy[bay_id]  # keeps bays without bookings
        if starts_at is not None:
            busy[bay_id].append((starts_at, ends_at))
    for intervals in busy.values():
        intervals.sort()
    return dict(busy)


def _is_free(intervals: list[tuple[datetime, datetime]], starts: list[datetime], start: datetime, end: datetime) -> bool:
    """No interval of a bay's sorted, non-overlapping bookings meets ``[start, end)``."""
    i = bisect_right(starts, start) - 1
    if i >= 0 and intervals[i][1] > start:
        return False
    j = i + 1
    return not (j < len(intervals) and intervals[j][0] < end)


def slots_available(
    *,
    workshop: Workshop,
    service: Service,
    date_from: date | None = None,
    days: int = 14,
    channel: str = BookingChannel.WEB,
    now: datetime | None = None,
    exclude_booking_id: int | None = None,
) -> list[Slot]:
    """Free start times for ``service`` at ``workshop`` over ``days`` local dates from ``date_from``.

    Honours working hours, breaks, closed days, the grid, the channel's lead time and
    horizon, bay kinds and active bookings. ``exclude_booking_id`` ignores one booking
    (the one being rescheduled). Two queries whatever the range.
    """
    now = now or timezone.now()
    window = booking_window(workshop=workshop, channel=channel, now=now)
    first_day = max(date_from or now.astimezone(workshop.tz).date(), now.astimezone(workshop.tz).date())
    last_day = min(first_day + timedelta(days=days - 1), window.last_day)
    if last_day < first_day or not service.is_active:
        return []
    schedule = load_schedule(workshop=workshop, first_day=first_day, last_day=last_day)
    intervals = [interval for day in schedule.values() for interval in day.intervals]
    if not intervals:
        return []
    busy = load_busy(
        workshop=workshop, service=service, start=intervals[0][0], end=intervals[-1][1],
        exclude_booking_id=exclude_booking_id,
    )
    starts = {bay_id: [s for s, _ in bay_busy] for bay_id, bay_busy in busy.items()}
    duration = timedelta(minutes=service.duration_minutes)
    step = timedelta(minutes=workshop.slot_step_minutes)
    slots: list[Slot] = []
    for open_at, close_at in intervals:
        start = open_at
        while start + duration <= close_at:
            if start >= window.earliest:
                end = start + duration
                free = tuple(b for b, b_busy in busy.items() if _is_free(b_busy, starts[b], start, end))
                if free:
                    slots.append(Slot(start, end, free))
            start += step
    return slots
