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
from clients.consents import consent_withdrawn
from workshops.models import Workshop

CLIENT_TEMPLATES = {
    BookingStatus.CONFIRMED: "client_booking_confirmed",
    BookingStatus.CANCELLED: "client_booking_cancelled",
}
MANAGER_STATUSES = frozenset({BookingStatus.CONFIRMED, BookingStatus.CANCELLED})
REPLACED_BY_CANCELLATION = ("client_reminder", "client_thanks")
NEW_BOOKING_TEMPLATE = "manager_new_booking"
CONSENT_WITHDRAWN = "Клиент отозвал согласие на обработку персональных данных: сообщения ему не отправляются."


def manager_channels(workshop: Workshop) -> list[str]:
    """The channels the branch has set up for its managers: a message goes by each."""
    channels = []
    if workshop.manager_telegram_chat_id:
        channels.append(NotificationChannel.TELEGRAM)
    if workshop.manager_emails.strip():
        channels.append(NotificationChannel.EMAIL)
    return channels


def manager_rows(booking: Booking, template_key: str, history: BookingHistory) -> list[Notification]:
    """One row per channel the branch has set up for its managers."""
    return [
        Notification(booking=booking, workshop=booking.workshop, history=history,
                     recipient_kind=RecipientKind.MANAGERS, channel=channel, template_key=template_key)
        for channel in manager_channels(booking.workshop)
    ]


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
    """The client's row, by their channel; none when the client has no channel.

    For a client who withdrew their consent (/withdraw) the row is written already skipped,
    with the reason, and never sent: staff see on the booking page that the client was not told.
    """
    channel = client_channel(booking, telegram_only=telegram_only)
    if channel is None:
        return []
    if consent_withdrawn(booking.client_id):
        fields.update(state=NotificationState.SKIPPED, last_error=CONSENT_WITHDRAWN)
    return [Notification(
        booking=booking, workshop=booking.workshop, history=history, recipient_kind=RecipientKind.CLIENT,
        client=booking.client, channel=channel, template_key=template_key, **fields,
    )]


def _rows_for(booking: Booking, history: BookingHistory) -> list[Notification]:
    by_staff = history.by_user_id is not None
    if history.event == BookingEvent.CREATED:
        # On PostgreSQL booking_create writes these rows itself, in the statement that
        # inserts the booking (bookings.services._save_new_booking): change both together.
        return manager_rows(booking, NEW_BOOKING_TEMPLATE, history)
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
    queue_after_commit([row.pk for row in rows if row.state == NotificationState.PENDING])
    return rows


def queue_after_commit(notification_ids: list[int]) -> None:
    """Queue the rows for sending once the transaction that wrote them commits; if it rolls back, nothing."""
    if notification_ids:
        transaction.on_commit(partial(queue_send, notification_ids))

