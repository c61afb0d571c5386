"""Handing outbox rows to Celery. Only ids travel: never names, phones or texts."""

from __future__ import annotations

import logging

from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)


def queue_send(notification_ids: list[int], *, countdown: float | None = None) -> int:
    """Queue a send task per id; return how many were queued.

    Call after commit. When the broker is unreachable the rows stay pending and
    ``outbox_sweep`` queues them once it is back; the caller (a booking that has
    already been saved) must not fail because of it.
    """
    from bookings.tasks import send_notification

    for queued, pk in enumerate(notification_ids):
        try:
            send_notification.apply_async((pk,), countdown=countdown)
        except OperationalError:
            logger.warning(
                "Broker unreachable: %d notification(s) from id %s left for the sweep",
                len(notification_ids) - queued, pk,
            )
            return queued
    return len(notification_ids)
