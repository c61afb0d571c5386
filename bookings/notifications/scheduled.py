"""Periodic jobs: reminders, return-visit nudges, and the sweep that re-queues forgotten rows.

Reminders and nudges are rows, found by a scan that beat runs every minute (or hour),
not Celery countdowns that a restart would lose. Each has a ``dedup_key``: however many
times or processes scan, one reminder per booking, time and offset exists, and the
send claims it before sending.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from dateutil.relativedelta import relativedelta
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, Value
from django.db.models.functions import Concat
from django.utils import timezone

from bookings.models import (
    ACTIVE_STATUSES,
    Booking,
    BookingStatus,
    Notification,
    NotificationState,
    RecipientKind,
)
from bookings.notifications.dispatch import MAX_AGE_ERROR, claim_timeout, give_up_q
from bookings.notifications.events import client_channel
from bookings.notifications.queue import queue_send
from clients.consents import clients_who_withdrew
from clients.models import Consent, ConsentPurpose
from workshops.models import Service, Workshop

logger = logging.getLogger(__name__)

# A nudge whose moment passed longer ago than this is not sent (e.g. old imported history).
NUDGE_WINDOW = timedelta(days=30)
# Nudges are written only in the branch's daytime, so they do not arrive at night.
NUDGE_LOCAL_HOURS = range(10, 20)
SWEEP_BATCH = 1000


def _insert_new(rows: list[Notification], now: datetime) -> list[int]:
    """Insert the rows whose ``dedup_key`` is new and queue them after commit; return their ids.

    Two scans racing insert each key once (``ignore_conflicts``); both may queue it, and
    the claim makes the send happen once.
    """
    keys = [row.dedup_key for row in rows]
    existing = set(Notification.objects.filter(dedup_key__in=keys).values_list("dedup_key", flat=True))
    fresh = [row for row in rows if row.dedup_key not in existing]
    if not fresh:
        return []
    with transaction.atomic():
        Notification.objects.bulk_create(fresh, ignore_conflicts=True, batch_size=500)
        ids = list(Notification.objects.filter(
            dedup_key__in=[row.dedup_key for row in fresh], state=NotificationState.PENDING, queued_at=now
        ).values_list("id", flat=True))
        transaction.on_commit(lambda: queue_send(ids, batch=True))
    return ids


def reminder_bookings(workshop: Workshop, hours: int, later: int, now: datetime):
    """Active bookings of the branch whose reminder ``hours`` before is due now (none of
    clients who withdrew their consent).

    Due from ``starts_at - hours`` until the next smaller reminder takes over
    (``starts_at - later``); a booking made after its reminder's moment does not get it.
    """
    return Booking.objects.filter(
        workshop=workshop, status__in=ACTIVE_STATUSES,
        starts_at__gt=now + timedelta(hours=later), starts_at__lte=now + timedelta(hours=hours),
        created_at__lt=F("starts_at") - timedelta(hours=hours),
    ).exclude(client_id__in=clients_who_withdrew()).select_related("client", "workshop")


def scan_reminders(now: datetime | None = None) -> list[int]:
    """Write (and queue) every reminder that is due and not yet written; return the new rows' ids."""
    now = now or timezone.now()
    rows = []
    for workshop in Workshop.objects.filter(is_active=True).exclude(reminder_offsets_hours=""):
        offsets = workshop.reminder_offsets
        for index, hours in enumerate(offsets):
            later = offsets[index + 1] if index + 1 < len(offsets) else 0
            for booking in reminder_bookings(workshop, hours, later, now):
                channel = client_channel(booking)
                if channel is None:
                    continue
                rows.append(Notification(
                    booking=booking, workshop=workshop, recipient_kind=RecipientKind.CLIENT,
                    client=booking.client, channel=channel, template_key="client_reminder",
                    payload={"hours": hours, "starts_at": booking.starts_at.isoformat()},
                    dedup_key=f"reminder:{booking.pk}:{int(booking.starts_at.timestamp())}:{hours}",
                    next_attempt_at=now, queued_at=now,
                ))
    ids = _insert_new(rows, now) if rows else []
    if ids:
        logger.info("Reminders: %d new", len(ids))
    return ids


def nudge_visits(months: int, now: datetime):
    """Completed visits of services with a ``months`` return interval whose nudge moment is now.

    Only the client's latest visit for that service counts, only with a marketing consent
    not withdrawn, and not when the client already has a visit ahead.
    """
    due_before = now - relativedelta(months=months)
    consenting = Consent.objects.filter(
        purpose=ConsentPurpose.MARKETING, withdrawn_at__isnull=True, client__isnull=False
    ).values("client_id")
    later_visit = Booking.objects.filter(
        client=OuterRef("client"), service=OuterRef("service"), status=BookingStatus.COMPLETED,
        starts_at__gt=OuterRef("starts_at"),
    )
    booked_ahead = Booking.objects.filter(client=OuterRef("client"), status__in=ACTIVE_STATUSES, starts_at__gt=now)
    return (
        Booking.objects.filter(
            status=BookingStatus.COMPLETED, service__return_interval_months=months,
            starts_at__gt=due_before - NUDGE_WINDOW, starts_at__lte=due_before, client_id__in=consenting,
        )
        .exclude(Exists(later_visit))
        .exclude(Exists(booked_ahead))
        .exclude(client_id__in=clients_who_withdrew())
        .select_related("client", "workshop")
    )


def scan_return_nudges(now: datetime | None = None) -> list[int]:
    """Write (and queue) the return-visit nudges due now, in branches where it is daytime."""
    now = now or timezone.now()
    intervals = Service.objects.filter(return_interval_months__isnull=False).values_list(
        "return_interval_months", flat=True
    ).distinct()
    rows = []
    for months in sorted(set(intervals)):
        for visit in nudge_visits(months, now):
            if now.astimezone(visit.workshop.tz).hour not in NUDGE_LOCAL_HOURS:
                continue
            channel = client_channel(visit)
            if channel is None:
                continue
            rows.append(Notification(
                booking=visit, workshop=visit.workshop, recipient_kind=RecipientKind.CLIENT, client=visit.client,
                channel=channel, template_key="client_return_nudge", payload={"months": months},
                dedup_key=f"nudge:{visit.pk}", next_attempt_at=now, queued_at=now,
            ))
    ids = _insert_new(rows, now) if rows else []
    if ids:
        logger.info("Return-visit nudges: %d new", len(ids))
    return ids


def outbox_sweep(now: datetime | None = None, *, grace: timedelta) -> list[int]:
    """Re-queue pending rows whose task should have run ``grace`` ago; give up on ones whose time is over (``give_up_q``).

    Catches what the queue lost: a broker down when the booking was saved, a worker
    killed mid-send (its claim goes stale), a countdown dropped by a restart, and the
    hourly retries during a long Telegram or SMTP outage, which are never given a
    countdown. Returns the ids queued. Queuing a row twice is harmless: the send claims it.
    """
    now = now or timezone.now()
    unclaimed = Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - claim_timeout())
    too_old = Notification.objects.filter(unclaimed, give_up_q(now), state=NotificationState.PENDING)
    gave_up = too_old.update(state=NotificationState.FAILED, claimed_at=None,
                             last_error=Concat(Value(f"{MAX_AGE_ERROR} "), F("last_error")))
    forgotten = Q(queued_at__lt=now - grace) | Q(queued_at__isnull=True, created_at__lt=now - grace)
    with transaction.atomic():
        ids = list(
            Notification.objects.select_for_update(skip_locked=True)
            .filter(unclaimed, forgotten, state=NotificationState.PENDING, next_attempt_at__lte=now)
            .order_by("next_attempt_at", "id").values_list("id", flat=True)[:SWEEP_BATCH]
        )
        if ids:
            Notification.objects.filter(pk__in=ids).update(queued_at=now)
            transaction.on_commit(lambda: queue_send(ids, batch=True))
    if ids or gave_up:
        logger.info("Outbox sweep: %d re-queued, %d given up", len(ids), gave_up)
    return ids
