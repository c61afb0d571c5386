"""Where and when a service can be booked: the schedule of a branch and its free slots.

The whole 14-day answer costs two queries: the branch's schedule (weekly hours and closed
days, one UNION) and its suitable bays with their active bookings in the window (one
LEFT JOIN). The rest is an in-memory sweep.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db import connection
from django.db.models import Q
from django.utils import timezone

from bookings.models import ACTIVE_STATUSES, Booking, BookingChannel
from workshops.models import Bay, ClosedDay, Service, WorkingHours, Workshop

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


def _as_time(value: time | str | None) -> time | None:
    # PostgreSQL returns times; SQLite keeps them as ISO text.
    return time.fromisoformat(value) if isinstance(value, str) else value


def _as_date(value: date | str | None) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else value


def load_schedule(*, workshop: Workshop, first_day: date, last_day: date) -> dict[date, DaySchedule]:
    """The branch's open intervals for each local date in ``[first_day, last_day]`` (one query)."""
    # Plain SQL: every booking and every slot search reads the schedule, and building this
    # UNION through the ORM cost several times more than running it (see BENCHMARKS.md).
    hours, closed = WorkingHours._meta.db_table, ClosedDay._meta.db_table
    sql = (
        f"SELECT weekday, opens_at, closes_at, break_starts, break_ends, NULL FROM {hours} WHERE workshop_id = %s "
        f"UNION ALL "
        f"SELECT NULL, NULL, NULL, NULL, NULL, date FROM {closed} WHERE workshop_id = %s AND date BETWEEN %s AND %s"
    )
    with connection.cursor() as cursor:
        adapt = connection.ops.adapt_datefield_value
        cursor.execute(sql, [workshop.pk, workshop.pk, adapt(first_day), adapt(last_day)])
        rows = cursor.fetchall()
    by_weekday: dict[int, tuple] = {}
    closed_days: set[date] = set()
    for weekday, opens, closes, break_starts, break_ends, closed_on in rows:
        if closed_on is not None:
            closed_days.add(_as_date(closed_on))
        else:
            by_weekday[weekday] = tuple(map(_as_time, (opens, closes, break_starts, break_ends)))

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


def _epoch(column: str) -> str:
    """SQL for a timestamp column as whole seconds since 1970-01-01 UTC.

    ``slots_available`` reads hundreds of booking times per call; as integers they load
    several times faster than as aware datetimes (Django converts each of those in Python).
    """
    if connection.vendor == "postgresql":
        return f"EXTRACT(EPOCH FROM {column})::bigint"
    return f"CAST(strftime('%%s', {column}) AS INTEGER)"  # SQLite keeps UTC text; '%%' is a literal '%'


def load_busy_seconds(
    *, workshop: Workshop, service: Service, start: datetime, end: datetime, exclude_booking_id: int | None = None
) -> dict[int, list[tuple[int, int]]]:
    """Suitable bays of the branch (only if it offers the service) → their active bookings in ``[start, end)``.

    One query: bays LEFT JOIN their overlapping active bookings, each as ``(starts, ends)``
    in epoch seconds. A bay without bookings maps to an empty list; bays come in their
    display order, bookings sorted by start.
    """
    # Plain SQL: the calendar and the times of the bot run this on every screen, and
    # building it through the ORM (a FilteredRelation) cost ~0.75 ms of Python, four times
    # running it (BENCHMARKS.md, "Telegram bot"). Suitable bays as in ``suitable_bays_q``.
    bay, booking = Bay._meta.db_table, Booking._meta.db_table
    offered = Service.workshops.through._meta.db_table
    adapt = connection.ops.adapt_datetimefield_value
    statuses = ", ".join(["%s"] * len(ACTIVE_STATUSES))
    on = f"b.bay_id = bay.id AND b.status IN ({statuses}) AND b.starts_at < %s AND b.ends_at > %s"
    params: list = [*ACTIVE_STATUSES, adapt(end), adapt(start)]
    if exclude_booking_id is not None:
        on += " AND b.id <> %s"
        params.append(exclude_booking_id)
    where = "bay.workshop_id = %s AND bay.is_active"
    params.append(workshop.pk)
    if service.bay_kind:
        where += " AND bay.kind = %s"
        params.append(service.bay_kind)
    where += f" AND EXISTS (SELECT 1 FROM {offered} WHERE service_id = %s AND workshop_id = %s)"
    params += [service.pk, workshop.pk]
    sql = (
        f"SELECT bay.id, {_epoch('b.starts_at')}, {_epoch('b.ends_at')} FROM {bay} bay "
        f"LEFT JOIN {booking} b ON {on} WHERE {where} ORDER BY bay.position, bay.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    busy: dict[int, list[tuple[int, int]]] = {}
    for bay_id, starts_at, ends_at in rows:
        intervals = busy.setdefault(bay_id, [])  # keeps bays without bookings
        if starts_at is not None:
            intervals.append((starts_at, ends_at))
    for intervals in busy.values():
        intervals.sort()
    return busy


def _free_bays(busy: dict[int, list[tuple[int, int]]], starts: list[int], duration: int) -> list[tuple[int, ...]]:
    """For each of ``starts`` (ascending epoch seconds), the bays with no booking meeting ``[start, start + duration)``.

    One merge pass per bay: as starts only grow, bookings that ended by a start can be
    skipped for good; the first one left overlaps exactly when it begins before the end.
    """
    free: list[list[int]] = [[] for _ in starts]
    for bay_id, intervals in busy.items():
        i, count = 0, len(intervals)
        for index, start in enumerate(starts):
            while i < count and intervals[i][1] <= start:
                i += 1
            if i == count or intervals[i][0] >= start + duration:
                free[index].append(bay_id)
    return [tuple(bays) for bays in free]


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
    busy = load_busy_seconds(
        workshop=workshop, service=service, start=intervals[0][0], end=intervals[-1][1],
        exclude_booking_id=exclude_booking_id,
    )
    duration = timedelta(minutes=service.duration_minutes)
    step = timedelta(minutes=workshop.slot_step_minutes)
    candidates: list[datetime] = []
    for open_at, close_at in intervals:
        start = open_at
        while start + duration <= close_at:
            if start >= window.earliest:
                candidates.append(start)
            start += step
    free = _free_bays(busy, [int(start.timestamp()) for start in candidates], service.duration_minutes * 60)
    slots = [Slot(start, start + duration, bays) for start, bays in zip(candidates, free) if bays]
    return slots
