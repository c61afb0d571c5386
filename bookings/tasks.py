"""Celery tasks: a thin interface to the notification services. Arguments are ids only."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings

from bookings.notifications import dispatch, scheduled


@shared_task(ignore_result=True)
def send_notification(notification_id: int) -> str:
    """Send one outbox row (claimed first, so running it twice sends once)."""
    return dispatch.notification_send(notification_id)


@shared_task(ignore_result=True)
def send_notifications(notification_ids: list[int]) -> int:
    """Send a batch of rows one after another (each claimed on its own); return how many were sent."""
    return sum(dispatch.notification_send(pk) == "sent" for pk in notification_ids)


@shared_task(ignore_result=True)
def scan_reminders() -> int:
    """Write and queue the reminders due now (beat, every minute)."""
    return len(scheduled.scan_reminders())


@shared_task(ignore_result=True)
def scan_return_nudges() -> int:
    """Write and queue the return-visit nudges due now (beat, hourly)."""
    return len(scheduled.scan_return_nudges())


@shared_task(ignore_result=True)
def sweep_outbox() -> int:
    """Re-queue rows the queue lost (beat, every minute)."""
    return len(scheduled.outbox_sweep(grace=timedelta(seconds=settings.NOTIFY_SWEEP_GRACE_SECONDS)))
