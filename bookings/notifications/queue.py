"""Handing outbox rows to Celery. Only ids travel: never names, phones or texts."""

from __future__ import annotations

import logging

from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)


# Scans and the sweep hand over rows in batches: one task per row would cost a broker
# round trip, a task start-up and a database connection per message, which at
# thousands of reminders is most of the work. Each row is still claimed on its own.
BATCH_SIZE = 25


def queue_send(notification_ids: list[int], *, countdown: float | None = None, batch: bool = False) -> int:
    """Queue a send task per id (or per ``BATCH_SIZE`` ids with ``batch``); return how many ids were queued.

    Call after commit. When the broker is unreachable the rows stay pending and
    ``outbox_sweep`` queues them once it is back; the caller (a booking that has
    already been saved) must not fail because of it.
    """
    from bookings.tasks import send_notification, send_notifications

    size = BATCH_SIZE if batch else 1
    chunks = [notification_ids[i:i + size] for i in range(0, len(notification_ids), size)]
    queued = 0
    for chunk in chunks:
        try:
            if len(chunk) == 1:
                send_notification.apply_async((chunk[0],), countdown=countdown)
            else:
                send_notifications.apply_async((chunk,), countdown=countdown)
        except OperationalError:
            logger.warning(
                "Broker unreachable: %d notification(s) from id %s left for the sweep",
                len(notification_ids) - queued, chunk[0],
            )
            return queued
        queued += len(chunk)
    return queued
