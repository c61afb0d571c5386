"""Which outbox rows a booking change produces.

Called by ``bookings.services`` inside the transaction that makes the change, so the
rows commit or roll back with it; they are queued for sending only after commit.

Who hears what (DESIGN §3):
- a new booking from any channel → the branch's managers (Telegram chat and e-mail);
- a status change or reschedule made by the client or the system (no staff user) →
  the managers; one made by staff → the client (confirmed, cancelled, rescheduled), since
  staff know what they did and a client who acted in the bot already saw the answer;
- a completed visit → the client: thanks and a rating;
- a cancellation → the booking's pending reminders are not needed any more.
"""

from __future__ import annotations

from functools import partial

from django.db import transaction

from bookings.models import (
    Booking,
    BookingChannel,
    BookingEvent,
    BookingHistory,
    BookingStatus,
    Notification,
    NotificationChannel,
    NotificationState,
    RecipientKind,
)
from bookings.notifications.queue import queue_send

CLIENT_TEMPLATES = {
    BookingStatus.CONFIRMED: "client_booking_confirmed",
    BookingStatus.CANCELLED: "client_booking_cancelled",
}
MANAGER_STATUSES = frozenset({BookingStatus.CONFIRMED, BookingStatus.CANCELLED})
REPLACED_BY_CANCELLATION = ("client_reminder", "client_thanks")


def manager_rows(booking: Booking, template_key: str, history: BookingHistory) -> list[Notification]:
    """One row per channel the branch has set up for its managers."""
    workshop = booking.workshop
    common = dict(booking=booking, workshop=workshop, history=history, recipient_kind=RecipientKind.MANAGERS,
                  template_key=template_key)
    rows = []
    if workshop.manager_telegram_chat_id:
        rows.append(Notification(channel=NotificationChannel.TELEGRAM, **common))
    if workshop.manager_emails.strip():
        rows.append(Notification(channel=NotificationChannel.EMAIL, **common))
    return rows


def client_channel(booking: Booking, *, telegram_only: bool = False) -> str | None:
    """Telegram when the client has linked it, else e-mail when known, else nothing."""
    client = booking.client
    if client.telegram_user_id:
        return NotificationChannel.TELEGRAM
    if client.email and not telegram_only:
        return NotificationChannel.EMAIL
    return None


def client_rows(booking: Booking, template_key: str, history: BookingHistory | None = None, *,
                telegram_only: bool = False, **fields) -> list[Notification]:
    channel = client_channel(booking, telegram_only=telegram_only)
    if channel is None:
        return []
    return [Notification(
        booking=booking, workshop=booking.workshop, history=history, recipient_kind=RecipientKind.CLIENT,
        client=booking.client, channel=channel, template_key=template_key, **fields,
    )]


def _rows_for(booking: Booking, history: BookingHistory) -> list[Notification]:
    by_staff = history.by_user_id is not None
    if history.event == BookingEvent.CREATED:
        return manager_rows(booking, "manager_new_booking", history)
    if history.event == BookingEvent.RESCHEDULED:
        if by_staff:
            return client_rows(booking, "client_booking_rescheduled", history)
        return manager_rows(booking, "manager_booking_changed", history)
    rows: list[Notification] = []
    if history.to_status == BookingStatus.COMPLETED:
        rows += client_rows(booking, "client_thanks", history, telegram_only=True,
                            dedup_key=f"thanks:{booking.pk}")
    elif by_staff and history.to_status in CLIENT_TEMPLATES:
        rows += client_rows(booking, CLIENT_TEMPLATES[history.to_status], history)
    elif not by_staff and history.to_status in MANAGER_STATUSES:
        rows += manager_rows(booking, "manager_booking_changed", history)
    return rows


def notifications_for_event(booking: Booking, history: BookingHistory) -> list[Notification]:
    """Write the outbox rows the change recorded in ``history`` calls for; queue them after commit.

    Must run inside the transaction that wrote ``history``. Imported visits notify nobody.
    """
    if booking.channel == BookingChannel.IMPORT:
        return []
    if history.to_status == BookingStatus.CANCELLED:
        booking.notifications.filter(
            state=NotificationState.PENDING, template_key__in=REPLACED_BY_CANCELLATION
        ).update(state=NotificationState.SKIPPED, last_error="Запись отменена.", claimed_at=None)
    rows = Notification.objects.bulk_create(_rows_for(booking, history))
    if rows:
        transaction.on_commit(partial(queue_send, [row.pk for row in rows]))
    return rows

