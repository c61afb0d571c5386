"""The booking engine's writes: the one place that creates and changes bookings.

Admin, bot, API, commands and tasks all call these functions; nothing else writes a
booking. Each write runs in one transaction and records who did it in ``BookingHistory``.
"""

from collections.abc import Container
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone

from bookings.availability import (
    booking_window,
    load_schedule,
    slots_available,
)
from bookings.errors import BookingRuleError, SlotTaken, TransitionNotAllowed
from bookings.models import (
    ACTIVE_STATUSES,
    COMMENT_MAX_LENGTH,
    TRANSITIONS,
    Booking,
    BookingChannel,
    BookingEvent,
    BookingHistory,
    BookingStatus,
    Notification,
    NotificationState,
    RecipientKind,
)
from bookings.notifications.events import (
    NEW_BOOKING_TEMPLATE,
    manager_channels,
    notifications_for_event,
    queue_after_commit,
)
from clients.models import Client, Vehicle
from clients.services import client_link_workshop
from workshops.db import lock_against_deletion, next_ids
from workshops.models import Bay, Service, Workshop

ALTERNATIVES_COUNT = 6


def _fmt(moment: datetime, workshop: Workshop) -> str:
    return f"{moment.astimezone(workshop.tz):%d.%m.%Y %H:%M}"


def _service_offered(*, service: Service, workshop: Workshop) -> bool:
    """Whether the branch offers the service: one probe of the link table (plain SQL, a hot path)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {Service.workshops.through._meta.db_table} WHERE service_id = %s AND workshop_id = %s",
            [service.pk, workshop.pk],
        )
        return cursor.fetchone() is not None


def check_slot_rules(
    *, workshop: Workshop, service: Service, starts_at: datetime, channel: str, now: datetime | None = None
) -> datetime:
    """Raise ``BookingRuleError`` naming the first rule ``starts_at`` breaks; return the end time.

    The same rules ``slots_available`` generates from: the service offered here, not in
    the past, lead time, horizon, open day, inside hours, not in a break, not crossing
    closing time or a break, on the grid.
    """
    now = now or timezone.now()
    if timezone.is_naive(starts_at):
        raise BookingRuleError("Время записи указано без часового пояса.", code="naive_time")
    if not service.is_active or not _service_offered(service=service, workshop=workshop):
        raise BookingRuleError(f"Услуга «{service}» не оказывается в филиале «{workshop}».", code="service_not_offered")
    if starts_at < now:
        raise BookingRuleError("Это время уже прошло.", code="past_time")
    window = booking_window(workshop=workshop, channel=channel, now=now)
    if starts_at < window.earliest:
        raise BookingRuleError(
            f"Слишком скоро: записаться можно не раньше {_fmt(window.earliest, workshop)}.", code="too_soon"
        )
    local_day = starts_at.astimezone(workshop.tz).date()
    if local_day > window.last_day:
        raise BookingRuleError(
            f"Запись открыта только до {window.last_day:%d.%m.%Y}.", code="beyond_horizon"
        )
    day = load_schedule(workshop=workshop, first_day=local_day, last_day=local_day)[local_day]
    if day.closed_reason == "closed_day":
        raise BookingRuleError(f"{local_day:%d.%m.%Y} филиал не работает.", code="closed_day")
    if day.closed_reason == "day_off":
        raise BookingRuleError(f"{local_day:%d.%m.%Y} — выходной день филиала.", code="day_off")
    ends_at = starts_at + timedelta(minutes=service.duration_minutes)
    day_open, day_close = day.intervals[0][0], day.intervals[-1][1]
    if not day_open <= starts_at < day_close:
        raise BookingRuleError(
            f"Филиал работает с {day_open:%H:%M} до {day_close:%H:%M}.", code="outside_hours"
        )
    for index, (open_at, close_at) in enumerate(day.intervals):
        if open_at <= starts_at < close_at:
            if ends_at > close_at:
                if index + 1 < len(day.intervals):
                    raise BookingRuleError(
                        f"Услуга длится {service.duration_minutes} мин и не успевает до перерыва в {close_at:%H:%M}.",
                        code="crosses_break",
                    )
                raise BookingRuleError(
                    f"Услуга длится {service.duration_minutes} мин и не успевает до закрытия в {close_at:%H:%M}.",
                    code="crosses_closing",
                )
            if (starts_at - open_at) % timedelta(minutes=workshop.slot_step_minutes):
                raise BookingRuleError(
                    f"Записаться можно с шагом {workshop.slot_step_minutes} мин от {open_at:%H:%M}.", code="off_grid"
                )
            return ends_at
    raise BookingRuleError(f"В это время у филиала перерыв ({day.intervals[0][1]:%H:%M}–{day.intervals[1][0]:%H:%M}).", code="in_break")


def nearest_alternatives(
    *, workshop: Workshop, service: Service, around: datetime, channel: str, exclude_booking_id: int | None = None
) -> list[datetime]:
    """Up to six free start times nearest to ``around`` (same day first, then the following days)."""
    local_day = around.astimezone(workshop.tz).date()
    slots = slots_available(
        workshop=workshop, service=service, date_from=local_day - timedelta(days=1), days=5, channel=channel,
        exclude_booking_id=exclude_booking_id,
    )
    nearest = sorted(slots, key=lambda s: abs((s.starts_at - around).total_seconds()))[:ALTERNATIVES_COUNT]
    return sorted(slot.starts_at for slot in nearest)


# The two statements every booking runs under its lock are plain SQL: built through the
# ORM they cost ~1.5 ms of Python per booking, a third of booking_create (BENCHMARKS.md).


def _lock_suitable_bays(*, workshop: Workshop, service: Service) -> list[tuple[int, int]]:
    """``(id, position)`` of the branch's bays that suit ``service`` (as ``suitable_bays_q``), locked in id order."""
    sql = f"SELECT id, position FROM {Bay._meta.db_table} WHERE workshop_id = %s AND is_active"
    params: list = [workshop.pk]
    if service.bay_kind:
        sql += " AND kind = %s"
        params.append(service.bay_kind)
    sql += " ORDER BY id"
    if connection.features.has_select_for_update:  # SQLite: BEGIN IMMEDIATE already holds the one write lock
        sql += " FOR UPDATE"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _taken_bay_ids(
    *, bay_ids: list[int], starts_at: datetime, ends_at: datetime, exclude_booking_id: int | None
) -> set[int]:
    """Which of ``bay_ids`` have an active booking meeting ``[starts_at, ends_at)`` (read after the lock)."""
    if connection.vendor == "postgresql":
        # The exclusion constraint's GiST index finds the overlapping bookings at once, where
        # ``starts_at < end AND ends_at > start`` reads every active booking of every branch
        # that starts before ``ends_at`` (≈ 1 ms at 2,500 upcoming bookings; BENCHMARKS.md).
        overlap, times = "tstzrange(starts_at, ends_at) && tstzrange(%s, %s)", [starts_at, ends_at]
    else:
        adapt = connection.ops.adapt_datetimefield_value
        overlap, times = "starts_at < %s AND ends_at > %s", [adapt(ends_at), adapt(starts_at)]
    sql = (
        f"SELECT bay_id FROM {Booking._meta.db_table} WHERE bay_id IN ({', '.join(['%s'] * len(bay_ids))}) "
        f"AND status IN ({', '.join(['%s'] * len(ACTIVE_STATUSES))}) AND {overlap}"
    )
    params = [*bay_ids, *ACTIVE_STATUSES, *times]
    if exclude_booking_id is not None:
        sql += " AND id <> %s"
        params.append(exclude_booking_id)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {bay_id for (bay_id,) in cursor.fetchall()}


def _lock_free_bay(
    *, workshop: Workshop, service: Service, starts_at: datetime, ends_at: datetime,
    preferred_bay: Bay | None, exclude_booking_id: int | None = None,
) -> int | None:
    """Lock the branch's suitable bays, then return the id of a free one (the preferred one if free) or ``None``.

    Locking every suitable bay row in id order serialises attempts at the same kind of
    place, so of N concurrent attempts at the last free one exactly one finds it free:
    the bookings are read only after the lock is held, by a statement of their own.
    """
    bays = _lock_suitable_bays(workshop=workshop, service=service)
    if not bays:
        raise BookingRuleError(
            f"В филиале «{workshop}» нет поста для услуги «{service}».", code="no_suitable_bay"
        )
    if preferred_bay is not None and preferred_bay.pk not in {bay_id for bay_id, _ in bays}:
        raise BookingRuleError(f"Пост «{preferred_bay.name}» не подходит для услуги «{service}».", code="bay_unsuitable")
    taken_ids = _taken_bay_ids(
        bay_ids=[bay_id for bay_id, _ in bays], starts_at=starts_at, ends_at=ends_at,
        exclude_booking_id=exclude_booking_id,
    )
    if preferred_bay is not None:
        return preferred_bay.pk if preferred_bay.pk not in taken_ids else None
    ordered = sorted(bays, key=lambda bay: (bay[1], bay[0]))
    return next((bay_id for bay_id, _ in ordered if bay_id not in taken_ids), None)


def _slot_taken(*, workshop: Workshop, service: Service, starts_at: datetime, channel: str,
                exclude_booking_id: int | None = None) -> SlotTaken:
    alternatives = nearest_alternatives(
        workshop=workshop, service=service, around=starts_at, channel=channel, exclude_booking_id=exclude_booking_id
    )
    if alternatives:
        listed = ", ".join(_fmt(moment, workshop) for moment in alternatives)
        message = f"Время {_fmt(starts_at, workshop)} уже занято. Ближайшее свободное: {listed}."
    else:
        message = f"Время {_fmt(starts_at, workshop)} уже занято, а рядом свободного нет. Выберите другой день."
    return SlotTaken(message, alternatives=alternatives)


def booking_create(
    *,
    workshop: Workshop,
    service: Service,
    client: Client,
    starts_at: datetime,
    channel: str,
    vehicle: Vehicle | None = None,
    comment: str = "",
    bay: Bay | None = None,
    created_by: AbstractBaseUser | None = None,
    actor: str = "",
) -> Booking:
    """Book ``service`` for ``client`` at ``starts_at`` on a suitable free bay (or on ``bay``).

    Raises ``BookingRuleError`` for a time or service the branch's rules refuse, and
    ``SlotTaken`` (with the nearest alternatives) when no suitable bay is free.
    """
    if channel == BookingChannel.IMPORT:
        raise BookingRuleError("Импортированные визиты записываются через booking_import_visit.", code="bad_channel")
    if vehicle is not None and vehicle.client_id != client.pk:
        raise BookingRuleError("Этот автомобиль принадлежит другому клиенту.", code="foreign_vehicle")
    ends_at = check_slot_rules(workshop=workshop, service=service, starts_at=starts_at, channel=channel)
    try:
        with transaction.atomic():
            free_bay_id = _lock_free_bay(
                workshop=workshop, service=service, starts_at=starts_at, ends_at=ends_at, preferred_bay=bay
            )
            if free_bay_id is None:
                raise _SlotGone
            booking = Booking(
                workshop=workshop, bay_id=free_bay_id, service=service, client=client, vehicle=vehicle,
                starts_at=starts_at, ends_at=ends_at, status=BookingStatus.NEW, channel=channel,
                comment=comment.replace("\x00", "").strip()[:COMMENT_MAX_LENGTH], created_by=created_by,
            )
            _save_new_booking(booking, actor=actor)
    except (_SlotGone, IntegrityError) as exc:
        # IntegrityError: the exclusion constraint caught an overlap the lock did not (defence in depth).
        if isinstance(exc, IntegrityError) and "booking_no_overlap_on_bay" not in str(exc):
            raise
        raise _slot_taken(workshop=workshop, service=service, starts_at=starts_at, channel=channel) from None
    return booking


def _save_new_booking(booking: Booking, *, actor: str) -> None:
    """Insert ``booking`` with its «created» history row, link its client to the branch and
    write the outbox rows ``notifications_for_event`` calls for; they are queued after commit.

    On PostgreSQL all four in one statement (``_NEW_BOOKING_SQL``): through the ORM they
    cost over a third of ``booking_create``'s Python, and four round trips (BENCHMARKS.md).
    No signal handlers listen to these models, so skipping ``save()`` skips nothing.
    """
    if connection.vendor != "postgresql":  # SQLite (the demo) has no INSERT inside WITH
        booking.save()
        history = BookingHistory.objects.create(
            booking=booking, event=BookingEvent.CREATED, to_status=booking.status,
            new_starts_at=booking.starts_at, by_user_id=booking.created_by_id, actor=actor,
        )
        client_link_workshop(client=booking.client, workshop=booking.workshop)
        notifications_for_event(booking, history)
        return
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(_NEW_BOOKING_SQL, {
            "workshop": booking.workshop_id, "bay": booking.bay_id, "service": booking.service_id,
            "client": booking.client_id, "vehicle": booking.vehicle_id, "starts_at": booking.starts_at,
            "ends_at": booking.ends_at, "status": booking.status, "channel": booking.channel,
            "comment": booking.comment, "created_by": booking.created_by_id, "now": now,
            "event": BookingEvent.CREATED, "actor": actor,
            # The rows notifications_for_event writes for a new booking: the managers, by each channel.
            "manager_channels": manager_channels(booking.workshop), "recipient_kind": RecipientKind.MANAGERS,
            "template_key": NEW_BOOKING_TEMPLATE, "state": NotificationState.PENDING,
        })
        booking.pk, notification_ids = cursor.fetchone()
    booking.created_at = now
    booking._state.adding, booking._state.db = False, connection.alias  # as Model.save() leaves it
    queue_after_commit(notification_ids)


# Columns the models fill by default are written out: Django's defaults live in Python, not in the
# tables. A NOT NULL column added to these models without a database default fails here in every test.
_NEW_BOOKING_SQL = f"""
    WITH booking AS (
        INSERT INTO {Booking._meta.db_table} (workshop_id, bay_id, service_id, client_id, vehicle_id, starts_at,
                                              ends_at, status, channel, comment, created_by_id, created_at)
        VALUES (%(workshop)s, %(bay)s, %(service)s, %(client)s, %(vehicle)s, %(starts_at)s, %(ends_at)s,
                %(status)s, %(channel)s, %(comment)s, %(created_by)s, %(now)s)
        RETURNING id
    ), history AS (
        INSERT INTO {BookingHistory._meta.db_table} (booking_id, event, from_status, to_status, new_starts_at,
                                                     at, by_user_id, actor, reason)
        SELECT id, %(event)s, '', %(status)s, %(starts_at)s, %(now)s, %(created_by)s, %(actor)s, '' FROM booking
        RETURNING id
    ), link AS (  -- as client_link_workshop
        INSERT INTO {Client.workshops.through._meta.db_table} (client_id, workshop_id)
        VALUES (%(client)s, %(workshop)s)
        ON CONFLICT DO NOTHING
    ), outbox AS (
        INSERT INTO {Notification._meta.db_table} (booking_id, workshop_id, history_id, recipient_kind, channel,
                                                   template_key, payload, state, attempts, next_attempt_at,
                                                   email, last_error, external_id, created_at)
        SELECT booking.id, %(workshop)s, history.id, %(recipient_kind)s, channel, %(template_key)s, '{{}}',
               %(state)s, 0, %(now)s, '', '', '', %(now)s
        FROM booking, history, unnest(%(manager_channels)s::text[]) WITH ORDINALITY AS c (channel, n)
        ORDER BY n
        RETURNING id
    )
    SELECT booking.id, ARRAY(SELECT id FROM outbox ORDER BY id) FROM booking
"""


class _SlotGone(Exception):
    """Internal: no free bay was found under the lock; turned into ``SlotTaken`` after rollback."""


def booking_transition(
    *,
    booking: Booking,
    to_status: str,
    by_user: AbstractBaseUser | None = None,
    actor: str = "",
    reason: str = "",
    now: datetime | None = None,
) -> Booking:
    """Move ``booking`` to ``to_status`` if the status machine allows it, recording who and why.

    Re-reads the booking under a row lock, so two people pressing buttons at once cannot
    both act on a stale status. Raises ``TransitionNotAllowed``.
    """
    now = now or timezone.now()
    with transaction.atomic():
        locked = Booking.objects.select_for_update().select_related("workshop").get(pk=booking.pk)
        old = locked.status
        if to_status not in TRANSITIONS.get(old, ()):
            raise TransitionNotAllowed(
                f"Нельзя перевести запись из статуса «{BookingStatus(old).label}» в «{BookingStatus(to_status).label}»."
            )
        if to_status in (BookingStatus.COMPLETED, BookingStatus.NO_SHOW) and locked.starts_at > now:
            raise TransitionNotAllowed(
                f"Визит ещё не начался ({_fmt(locked.starts_at, locked.workshop)}): отметить его нельзя.",
                code="visit_not_started",
            )
        locked.status = to_status
        locked.save(update_fields=["status"])
        if to_status == BookingStatus.COMPLETED:
            _note_first_visits({locked.client_id: locked.starts_at})
        history = BookingHistory.objects.create(
            booking=locked, event=BookingEvent.STATUS, from_status=old, to_status=to_status,
            by_user=by_user, actor=actor, reason=reason.strip()[:2000],
        )
        notifications_for_event(locked, history)
    return locked


def booking_reschedule(
    *,
    booking: Booking,
    starts_at: datetime,
    channel: str | None = None,
    bay: Bay | None = None,
    by_user: AbstractBaseUser | None = None,
    actor: str = "",
    reason: str = "",
) -> Booking:
    """Move an active booking to ``starts_at`` (keeping its bay when free), recording the move.

    The new time is checked by the same rules as a new booking for ``channel`` (the
    booking's own channel by default). Raises ``TransitionNotAllowed``, ``BookingRuleError``
    or ``SlotTaken``.
    """
    current = Booking.objects.select_related("workshop", "service", "bay").get(pk=booking.pk)
    channel = channel or current.channel
    if current.status not in ACTIVE_STATUSES:
        raise TransitionNotAllowed(
            f"Запись в статусе «{current.get_status_display()}» перенести нельзя.", code="reschedule_not_allowed"
        )
    workshop, service = current.workshop, current.service
    ends_at = check_slot_rules(workshop=workshop, service=service, starts_at=starts_at, channel=channel)
    try:
        with transaction.atomic():
            locked = Booking.objects.select_for_update().get(pk=current.pk)
            if locked.status not in ACTIVE_STATUSES:
                raise TransitionNotAllowed("Запись уже отменена или завершена.", code="reschedule_not_allowed")
            free_bay_id = _lock_free_bay(
                workshop=workshop, service=service, starts_at=starts_at, ends_at=ends_at,
                preferred_bay=bay or locked.bay, exclude_booking_id=locked.pk,
            )
            if free_bay_id is None and bay is None:
                free_bay_id = _lock_free_bay(
                    workshop=workshop, service=service, starts_at=starts_at, ends_at=ends_at,
                    preferred_bay=None, exclude_booking_id=locked.pk,
                )
            if free_bay_id is None:
                raise _SlotGone
            old_starts_at = locked.starts_at
            locked.starts_at, locked.ends_at, locked.bay_id = starts_at, ends_at, free_bay_id
            locked.save(update_fields=["starts_at", "ends_at", "bay"])
            history = BookingHistory.objects.create(
                booking=locked, event=BookingEvent.RESCHEDULED, from_status=locked.status, to_status=locked.status,
                old_starts_at=old_starts_at, new_starts_at=starts_at, by_user=by_user, actor=actor,
                reason=reason.strip()[:2000],
            )
            notifications_for_event(locked, history)
    except (_SlotGone, IntegrityError) as exc:
        if isinstance(exc, IntegrityError) and "booking_no_overlap_on_bay" not in str(exc):
            raise
        raise _slot_taken(
            workshop=workshop, service=service, starts_at=starts_at, channel=channel, exclude_booking_id=current.pk
        ) from None
    return locked


def booking_rate(*, booking: Booking, client: Client, rating: int, now: datetime | None = None) -> Booking:
    """Store the client's 1–5 rating of a completed visit (a later press replaces it).

    Raises ``DomainError`` when ``client`` is not the booking's client, the visit is not
    completed, or the rating is out of range.
    """
    if not 1 <= int(rating) <= 5:
        raise BookingRuleError("Оценка — число от 1 до 5.", code="bad_rating")
    with transaction.atomic():
        locked = Booking.objects.select_for_update().get(pk=booking.pk)
        if locked.client_id != client.pk:
            raise BookingRuleError("Это не ваша запись.", code="not_your_booking")
        if locked.status != BookingStatus.COMPLETED:
            raise BookingRuleError("Оценить можно только состоявшийся визит.", code="visit_not_completed")
        locked.rating, locked.rated_at = int(rating), now or timezone.now()
        locked.save(update_fields=["rating", "rated_at"])
    return locked


def booking_import_visit(
    *,
    workshop: Workshop,
    client: Client,
    service: Service,
    visited_on: date,
    vehicle: Vehicle | None = None,
    comment: str = "",
) -> Booking:
    """Record a past visit from an old system as a completed booking with channel ``import``.

    Imported visits count for «returning client» and never as new bookings. They are
    not held to hours or capacity (the old system's record is taken as it is), and a
    visit already recorded for the client at the branch on that day is not duplicated.
    """
    if visited_on > timezone.localdate(timezone=workshop.tz):  # the branch's today, not the server's
        raise BookingRuleError("Дата визита в будущем.", code="visit_in_future")
    starts_at = import_visit_starts_at(visited_on, workshop.tz)
    existing = Booking.objects.filter(
        workshop=workshop, client=client, channel=BookingChannel.IMPORT, starts_at=starts_at
    ).first()
    if existing:
        return existing
    bay = Bay.objects.filter(workshop=workshop).order_by("position", "id").first()
    if bay is None:
        raise BookingRuleError(f"В филиале «{workshop}» нет ни одного поста.", code="no_suitable_bay")
    with transaction.atomic():
        booking = Booking.objects.create(
            workshop=workshop, bay=bay, service=service, client=client, vehicle=vehicle,
            starts_at=starts_at, ends_at=starts_at + timedelta(minutes=service.duration_minutes),
            status=BookingStatus.COMPLETED, channel=BookingChannel.IMPORT, comment=comment[:COMMENT_MAX_LENGTH],
        )
        BookingHistory.objects.create(
            booking=booking, event=BookingEvent.CREATED, to_status=BookingStatus.COMPLETED,
            new_starts_at=starts_at, actor="Импорт",
        )
        _note_first_visits({client.pk: starts_at})
        client_link_workshop(client=client, workshop=workshop)
    return booking


IMPORT_VISIT_SERVICE_NAME = "Визит из прежней системы"


def import_visit_starts_at(visited_on: date, tz: tzinfo) -> datetime:
    """When an imported visit of ``visited_on`` starts: the old systems give a day, we book local noon.

    The importer uses it too, to write ``first_visit_at`` of the clients it creates together with them.
    """
    return datetime.combine(visited_on, time(12), tzinfo=tz)


def import_visit_service() -> Service:
    """The service imported visits are recorded under: inactive, so nobody can book it."""
    service = Service.objects.filter(name=IMPORT_VISIT_SERVICE_NAME, is_active=False).order_by("id").first()
    if service is None:
        service = Service.objects.create(
            name=IMPORT_VISIT_SERVICE_NAME, duration_minutes=60, is_active=False, position=32000
        )
    return service


def booking_import_visits_bulk(
    *, workshop: Workshop, service: Service, visits: list[tuple[int, int | None, date]]
) -> int:
    """Many past visits ``(client_id, vehicle_id, visited_on)`` at once; returns how many were created.

    The same rules as ``booking_import_visit``, for files of tens of thousands of rows:
    completed bookings with channel ``import`` at noon local time on the first bay, one per
    client and day at the branch (a visit already recorded is not duplicated), future dates
    refused, each with its «created» history row, and each client linked to the branch.
    Runs in the caller's transaction.
    """
    wanted, bay = _import_visits_to_create(workshop=workshop, visits=visits)
    if not wanted:
        return 0
    duration = timedelta(minutes=service.duration_minutes)
    client_ids = {client_id for client_id, _v, _d in visits}
    bookings = Booking.objects.bulk_create(
        [
            Booking(workshop=workshop, bay=bay, service=service, client_id=client_id, vehicle_id=vehicle_id,
                    starts_at=starts_at, ends_at=starts_at + duration, status=BookingStatus.COMPLETED,
                    channel=BookingChannel.IMPORT)
            for (client_id, starts_at), vehicle_id in wanted.items()
        ],
        batch_size=5000,
    )
    BookingHistory.objects.bulk_create(
        [
            BookingHistory(booking=b, event=BookingEvent.CREATED, to_status=BookingStatus.COMPLETED,
                           new_starts_at=b.starts_at, actor="Импорт")
            for b in bookings
        ],
        batch_size=5000,
    )
    firsts: dict[int, datetime] = {}
    for client_id, starts_at in wanted:
        if client_id not in firsts or starts_at < firsts[client_id]:
            firsts[client_id] = starts_at
    _note_first_visits(firsts)
    Link = Client.workshops.through
    Link.objects.bulk_create(
        [Link(client_id=client_id, workshop_id=workshop.pk) for client_id in client_ids],
        ignore_conflicts=True, batch_size=5000,
    )
    return len(bookings)


def _import_visits_to_create(
    *, workshop: Workshop, visits: list[tuple[int, int | None, date]]
) -> tuple[dict[tuple[int, datetime], int | None], Bay | None]:
    """(client, local noon) → vehicle of the visits not yet recorded, and the bay to put them on."""
    today = timezone.localdate(timezone=workshop.tz)
    if any(visited_on > today for _c, _v, visited_on in visits):
        raise BookingRuleError("Дата визита в будущем.", code="visit_in_future")
    if not visits:
        return {}, None
    bay = Bay.objects.filter(workshop=workshop).order_by("position", "id").first()
    if bay is None:
        raise BookingRuleError(f"В филиале «{workshop}» нет ни одного поста.", code="no_suitable_bay")
    tz = workshop.tz
    client_ids = sorted({client_id for client_id, _v, _d in visits})
    existing: set[tuple[int, datetime]] = set()
    for start in range(0, len(client_ids), 5000):
        existing.update(Booking.objects.filter(
            workshop=workshop, channel=BookingChannel.IMPORT, client_id__in=client_ids[start:start + 5000]
        ).values_list("client_id", "starts_at"))
    wanted: dict[tuple[int, datetime], int | None] = {}
    for client_id, vehicle_id, visited_on in visits:
        key = (client_id, import_visit_starts_at(visited_on, tz))
        if key not in existing and key not in wanted:
            wanted[key] = vehicle_id
    return wanted, bay


def booking_import_visits_copy(
    *, workshop: Workshop, service: Service, visits: list[tuple[int, int | None, date]],
    new_client_ids: Container[int] = frozenset(),
) -> int:
    """``booking_import_visits_bulk`` for PostgreSQL, set-based: the same bookings, for files of 100,000 rows.

    Runs in the caller's transaction. ``new_client_ids`` are clients the caller created in this
    transaction, linked to the branch, with ``first_visit_at`` written and at most one visit a
    day in ``visits`` (the importer's): nothing can be recorded for them yet, so their bookings
    and history rows are copied in as they are — most of a big import, and most of this
    function's time if they went the way of the others.
    """
    today = timezone.localdate(timezone=workshop.tz)
    if any(visited_on > today for _c, _v, visited_on in visits):
        raise BookingRuleError("Дата визита в будущем.", code="visit_in_future")
    if not visits:
        return 0
    bay = Bay.objects.filter(workshop=workshop).order_by("position", "id").first()
    if bay is None:
        raise BookingRuleError(f"В филиале «{workshop}» нет ни одного поста.", code="no_suitable_bay")
    moments = _ImportMoments(workshop.tz, timedelta(minutes=service.duration_minutes))
    fresh = [visit for visit in visits if visit[0] in new_client_ids]
    others = [visit for visit in visits if visit[0] not in new_client_ids] if fresh else visits
    with connection.cursor() as cursor:
        # The caller may have turned per-row foreign-key checks off (``foreign_key_checks_skipped``).
        if not (lock_against_deletion(cursor, Bay, [bay.pk]) and lock_against_deletion(cursor, Service, [service.pk])):
            raise BookingRuleError("Пост или услугу удалили во время загрузки. Повторите её.", code="bay_or_service_gone")
        # Known clients first: their look-up of recorded visits is planned from the table's statistics,
        # which do not count 100,000 bookings copied a moment ago (it would scan them all for every visit).
        created = _insert_visits_of_known_clients(cursor, workshop, bay, service, others, moments)
        created += _copy_visits_of_new_clients(cursor, workshop, bay, service, fresh, moments)
    return created


class _ImportMoments:
    """Start and end of an imported visit of a day, as the text COPY reads: a file has a few
    thousand distinct days, and dumping 100,000 aware datetimes one by one costs more than the
    rest of the write."""

    def __init__(self, tz: tzinfo, duration: timedelta) -> None:
        self.tz, self.duration = tz, duration
        self.known: dict[date, tuple[str, str]] = {}

    def __call__(self, visited_on: date) -> tuple[str, str]:
        moment = self.known.get(visited_on)
        if moment is None:
            starts_at = import_visit_starts_at(visited_on, self.tz)
            moment = self.known[visited_on] = (starts_at.isoformat(), (starts_at + self.duration).isoformat())
        return moment


def _copy_visits_of_new_clients(cursor: Any, workshop: Workshop, bay: Bay, service: Service,
                                visits: list[tuple[int, int | None, date]], moments: _ImportMoments) -> int:
    """Bookings and «created» history rows of clients made in this transaction, one ``COPY`` each."""
    if not visits:
        return 0
    ids = next_ids(cursor, Booking, len(visits))
    now = timezone.now().isoformat()
    with cursor.copy(f"COPY {Booking._meta.db_table} (id, workshop_id, bay_id, service_id, client_id, vehicle_id, "
                     "starts_at, ends_at, status, channel, comment, created_at) FROM STDIN") as copy:
        for booking_id, (client_id, vehicle_id, visited_on) in zip(ids, visits):
            copy.write_row((booking_id, workshop.pk, bay.pk, service.pk, client_id, vehicle_id, *moments(visited_on),
                            BookingStatus.COMPLETED, BookingChannel.IMPORT, "", now))
    with cursor.copy(f"COPY {BookingHistory._meta.db_table} (booking_id, event, from_status, to_status, "
                     "new_starts_at, at, actor, reason) FROM STDIN") as copy:
        for booking_id, (_client, _vehicle, visited_on) in zip(ids, visits):
            copy.write_row((booking_id, BookingEvent.CREATED, "", BookingStatus.COMPLETED, moments(visited_on)[0],
                            now, "Импорт", ""))
    return len(ids)


def _insert_visits_of_known_clients(cursor: Any, workshop: Workshop, bay: Bay, service: Service,
                                    visits: list[tuple[int, int | None, date]], moments: _ImportMoments) -> int:
    """The visits go into a temporary table with one ``COPY``; one statement then creates the
    bookings that are not recorded yet, their «created» history rows, the links of their clients
    to the branch and their first visits."""
    if not visits:
        return 0
    cursor.execute("DROP TABLE IF EXISTS pg_temp.import_visits")
    cursor.execute("CREATE TEMP TABLE import_visits (ord integer, client_id bigint, vehicle_id bigint, "
                   "starts_at timestamptz, ends_at timestamptz) ON COMMIT DROP")
    with cursor.copy("COPY import_visits FROM STDIN") as copy:
        for ord_, (client_id, vehicle_id, visited_on) in enumerate(visits):
            copy.write_row((ord_, client_id, vehicle_id, *moments(visited_on)))
    cursor.execute(
        f"""
        WITH created AS (
            INSERT INTO {Booking._meta.db_table} (workshop_id, bay_id, service_id, client_id, vehicle_id,
                                                  starts_at, ends_at, status, channel, comment, created_at)
            SELECT %(workshop)s, %(bay)s, %(service)s, v.client_id, v.vehicle_id, v.starts_at, v.ends_at,
                   %(status)s, %(channel)s, '', %(now)s
            FROM (  -- one visit per client and day: the first one in the list keeps its car
                SELECT DISTINCT ON (client_id, starts_at) * FROM import_visits ORDER BY client_id, starts_at, ord
            ) v
            WHERE NOT EXISTS (SELECT 1 FROM {Booking._meta.db_table} b
                              WHERE b.workshop_id = %(workshop)s AND b.channel = %(channel)s
                                AND b.client_id = v.client_id AND b.starts_at = v.starts_at)
            ORDER BY v.ord
            RETURNING id, client_id, starts_at
        ), history AS (
            INSERT INTO {BookingHistory._meta.db_table} (booking_id, event, from_status, to_status, new_starts_at,
                                                         at, actor, reason)
            SELECT id, %(event)s, '', %(status)s, starts_at, %(now)s, 'Импорт', '' FROM created
        ), links AS (
            INSERT INTO {Client.workshops.through._meta.db_table} (client_id, workshop_id)
            SELECT DISTINCT c.client_id, %(workshop)s FROM created c
            WHERE NOT EXISTS (SELECT 1 FROM {Client.workshops.through._meta.db_table} l
                              WHERE l.client_id = c.client_id AND l.workshop_id = %(workshop)s)
            ON CONFLICT DO NOTHING
        ), first_visits AS (  -- as _note_first_visits: a client's first visit only ever moves earlier
            UPDATE {Client._meta.db_table} c SET first_visit_at = f.starts_at
            FROM (SELECT client_id, min(starts_at) AS starts_at FROM created GROUP BY client_id) f
            WHERE c.id = f.client_id AND (c.first_visit_at IS NULL OR c.first_visit_at > f.starts_at)
        )
        SELECT count(*) FROM created
        """,
        {"workshop": workshop.pk, "bay": bay.pk, "service": service.pk, "status": BookingStatus.COMPLETED,
         "channel": BookingChannel.IMPORT, "event": BookingEvent.CREATED, "now": timezone.now()},
    )
    created = cursor.fetchone()[0]
    cursor.execute("DROP TABLE import_visits")
    return created


# --- the client's first visit (``Client.first_visit_at``) ---------------------------------


def _note_first_visits(firsts: dict[int, datetime]) -> None:
    """Completed visits were just recorded: ``{client_id: start of the earliest of them}``.

    Moves each client's ``first_visit_at`` earlier where the new visit is earlier (or the
    first). A completed booking never changes status, time or client again (the status
    machine has no way back from «completed»), so the marker only ever moves earlier, and
    ``UPDATE … WHERE first_visit_at > new`` stays right when two visits of one client are
    recorded at once: the second waits for the first's row lock and re-checks its condition.
    One statement per distinct moment (imported visits share their day's noon).
    """
    clients_by_moment: dict[datetime, list[int]] = {}
    for client_id, moment in firsts.items():
        clients_by_moment.setdefault(moment, []).append(client_id)
    for moment, client_ids in clients_by_moment.items():
        for start in range(0, len(client_ids), 5000):
            Client.objects.filter(pk__in=client_ids[start:start + 5000]).filter(
                Q(first_visit_at__isnull=True) | Q(first_visit_at__gt=moment)
            ).update(first_visit_at=moment)


def clients_first_visit_refresh(*, client_ids: list[int] | None = None) -> None:
    """Recompute ``first_visit_at`` from the bookings, for ``client_ids`` or every client.

    For rows written without the services above: the demo's past bookings, the migration
    that added the field. The services keep it up to date themselves.
    """
    first = Booking.objects.filter(
        client=OuterRef("pk"), status=BookingStatus.COMPLETED
    ).order_by("starts_at").values("starts_at")[:1]
    if client_ids is None:
        Client.objects.update(first_visit_at=Subquery(first))
        return
    for start in range(0, len(client_ids), 5000):
        Client.objects.filter(pk__in=client_ids[start:start + 5000]).update(first_visit_at=Subquery(first))
