"""Sending one outbox row: claim it, re-check it, send it, record what happened.

Claim before send (healthchecks' Flip, pretix's reminders): a conditional UPDATE takes
the row for exactly one worker, so a task delivered twice, a retried task, a second
worker or a second beat process never send it twice. A claim older than
``NOTIFY_CLAIM_TIMEOUT_SECONDS`` belongs to a worker that died and may be taken over.

What cannot be ruled out: a worker killed after Telegram or the SMTP server accepted a
message and before the row was marked sent will have it sent again once its claim goes
stale (at-least-once at that one boundary; the window is one UPDATE long).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from bookings.models import (
    ACTIVE_STATUSES,
    Booking,
    BookingStatus,
    Notification,
    NotificationChannel,
    NotificationState,
    RecipientKind,
)
from bookings.notifications import render, transports
from bookings.notifications.events import CLIENT_TEMPLATES, CONSENT_WITHDRAWN
from bookings.notifications.managers_chat import manager_chat_migrate
from bookings.notifications.queue import queue_send
from bookings.notifications.render import has_marketing_consent
from bookings.notifications.transports import TransportError
from clients.consents import consent_withdrawn
from clients.models import Client

logger = logging.getLogger(__name__)

# Seconds to wait after the 1st, 2nd, … temporary failure; from then on, the last (hourly).
# A temporary failure (Telegram or the SMTP server down, a timeout, a 5xx) is never the
# message's fault, so it is retried for as long as the message is useful (DESIGN §3:
# never lost because Telegram or the SMTP server was down) ...
BACKOFF_SECONDS = (30, 120, 600, 1800, 3600)
# ... but not for ever: a message not sent within this time of being written (or of staff's
# «Отправить ещё раз», see ``give_up_at``) is of no use any more (its visit has passed, its
# news is old) and fails, visible in admin.
MAX_AGE = timedelta(days=3)


def _days(n: int) -> str:
    """«1 день», «3 дня», «5 дней»."""
    if n % 10 == 1 and n % 100 != 11:
        return f"{n} день"
    if n % 10 in (2, 3, 4) and n % 100 not in (12, 13, 14):
        return f"{n} дня"
    return f"{n} дней"


MAX_AGE_ERROR = f"Не отправлено за {_days(MAX_AGE.days)} — сообщение устарело."
# An error of ours (a bug in code or a template, not an outage) will not go away by waiting
# three days: such a row fails after this many attempts (about 1.5 hours of backoff).
INTERNAL_ERROR_ATTEMPTS = 6
# Retries this near are queued with a countdown; later ones are left to the sweep.
COUNTDOWN_LIMIT_SECONDS = 600
# The client's status messages: each is sent only while it still describes the booking.
STATUS_TEMPLATES = frozenset(CLIENT_TEMPLATES.values()) | {"client_booking_rescheduled"}


def claim_timeout() -> timedelta:
    return timedelta(seconds=settings.NOTIFY_CLAIM_TIMEOUT_SECONDS)


def give_up_q(now: datetime) -> Q:
    """Rows whose time to be sent is over: ``give_up_at`` passed, or, when it is empty, ``MAX_AGE`` since written."""
    return Q(give_up_at__lte=now) | Q(give_up_at__isnull=True, created_at__lte=now - MAX_AGE)


def is_too_old(notification: Notification, now: datetime) -> bool:
    """The same test as ``give_up_q``, for a row in hand."""
    give_up_at = notification.give_up_at or notification.created_at + MAX_AGE
    return now >= give_up_at


def claimable_q(now: datetime) -> Q:
    """Pending, due, and nobody (alive) working on it."""
    return (
        Q(state=NotificationState.PENDING, next_attempt_at__lte=now)
        & (Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - claim_timeout()))
    )


def notification_claim(notification_id: int, now: datetime) -> bool:
    """Take the row for this worker; ``True`` for exactly one of any number of concurrent callers.

    PostgreSQL re-evaluates the WHERE clause on the row a concurrent UPDATE left, so
    the second of two simultaneous claims matches nothing.
    """
    claimed = Notification.objects.filter(claimable_q(now), pk=notification_id).update(
        claimed_at=now, attempts=F("attempts") + 1
    )
    return claimed == 1


def _mine(notification: Notification, claimed_at: datetime):
    """The row, only while our claim still holds (a stale claim may have been taken over)."""
    return Notification.objects.filter(pk=notification.pk, claimed_at=claimed_at, state=NotificationState.PENDING)


def stale_status_reason(notification: Notification) -> str | None:
    """Why a client's status message no longer describes the booking, or ``None``.

    A message whose first attempt failed is retried later, possibly after the next
    change was already reported: without this, a retried «подтверждена» would arrive
    after «отменена», or «перенесена на B» after «перенесена на C», and the client's
    last message would be wrong.
    """
    booking, key = notification.booking, notification.template_key
    if key == "client_booking_confirmed" and booking.status != BookingStatus.CONFIRMED:
        return f"Сообщение устарело: запись уже не подтверждена (статус — «{booking.get_status_display()}»)."
    if key == "client_booking_cancelled" and booking.status != BookingStatus.CANCELLED:
        return f"Сообщение устарело: запись уже не отменена (статус — «{booking.get_status_display()}»)."
    if key == "client_booking_rescheduled":
        if booking.status not in ACTIVE_STATUSES:
            return f"Сообщение устарело: запись уже «{booking.get_status_display()}»."
        history = notification.history
        if history is not None and history.new_starts_at != booking.starts_at:
            return "Сообщение устарело: запись с тех пор перенесена ещё раз."
    return None


def skip_reason(notification: Notification, now: datetime) -> str | None:
    """Why the row should not be sent any more (pretix: re-check after claiming), or ``None``."""
    booking, key = notification.booking, notification.template_key
    if notification.recipient_kind == RecipientKind.CLIENT and consent_withdrawn(notification.client_id):
        return CONSENT_WITHDRAWN
    if key in STATUS_TEMPLATES:
        return stale_status_reason(notification)
    if key == "client_reminder":
        if booking.status not in ACTIVE_STATUSES:
            return "Запись отменена или завершена."
        if booking.starts_at.isoformat() != notification.payload.get("starts_at"):
            return "Запись перенесена: напоминание будет о новом времени."
        if booking.starts_at <= now:
            return "Визит уже начался."
    if key == "client_thanks" and booking.status != BookingStatus.COMPLETED:
        return "Визит не отмечен выполненным."
    if key == "client_return_nudge":
        if not has_marketing_consent(notification.client_id):
            return "Клиент отозвал согласие на рассылки."
        if Booking.objects.filter(client_id=notification.client_id, status__in=ACTIVE_STATUSES,
                                  starts_at__gt=now).exists():
            return "Клиент уже записан."
    return None


def telegram_chat_for(notification: Notification) -> int:
    """The chat to send to; ``TransportError(permanent)`` when there is none."""
    kind = notification.recipient_kind
    if kind == RecipientKind.CLIENT:
        client = notification.client
        if client.telegram_blocked_at:
            raise TransportError("Клиент заблокировал бота: сообщения в Telegram не доставляются.", permanent=True)
        if not client.telegram_user_id:
            raise TransportError("Клиент не связан с Telegram.", permanent=True)
        return client.telegram_user_id
    if kind == RecipientKind.MANAGERS:
        if not notification.workshop.manager_telegram_chat_id:
            raise TransportError("У филиала не указан Telegram-чат менеджеров.", permanent=True)
        return notification.workshop.manager_telegram_chat_id
    if kind == RecipientKind.USER:
        link = getattr(notification.user, "telegram_link", None)
        if link is None or not link.telegram_user_id:
            raise TransportError("Сотрудник не привязал Telegram.", permanent=True)
        return link.telegram_user_id
    raise TransportError(f"Telegram не подходит получателю «{notification.get_recipient_kind_display()}».",
                         permanent=True)


def email_addresses_for(notification: Notification) -> list[str]:
    kind = notification.recipient_kind
    if kind == RecipientKind.CLIENT:
        addresses = [notification.client.email] if notification.client.email else []
    elif kind == RecipientKind.MANAGERS:
        addresses = notification.workshop.manager_email_list
    elif kind == RecipientKind.USER:
        addresses = [notification.user.email] if notification.user.email else []
    else:
        addresses = [notification.email] if notification.email else []
    if not addresses:
        raise TransportError("Нет адреса e-mail получателя.", permanent=True)
    return addresses


def deliver(notification: Notification, now: datetime) -> str:
    """Send through the row's channel; return the message id. Raises ``TransportError``."""
    if notification.channel == NotificationChannel.TELEGRAM:
        chat_id = telegram_chat_for(notification)
        message = render.render_telegram(notification, now=now)
        try:
            return transports.telegram_send(chat_id, message.text, message.reply_markup)
        except transports.ChatMigrated as moved:
            if notification.recipient_kind != RecipientKind.MANAGERS:
                raise
            # The managers' group became a supergroup: follow it, for this and every later message.
            manager_chat_migrate(old_chat_id=chat_id, new_chat_id=moved.new_chat_id)
            return transports.telegram_send(moved.new_chat_id, message.text, message.reply_markup)
    addresses = email_addresses_for(notification)
    message = render.render_email(notification, now=now)
    return transports.email_send(addresses, message.subject, message.text, message.html, message.attachments,
                                 headers=message.headers)


def notification_send(notification_id: int, *, now: datetime | None = None) -> str:
    """Claim, re-check, send and record one row; return its state afterwards ('' if not claimed).

    Never raises for a sending problem: every outcome is written to the row, where
    admin shows it.
    """
    now = now or timezone.now()
    if not notification_claim(notification_id, now):
        return ""
    notification = Notification.objects.select_related(
        "booking__workshop", "booking__client", "booking__service", "booking__vehicle", "workshop", "client",
        "user", "history__by_user",
    ).get(pk=notification_id)
    claimed_at = now
    reason = skip_reason(notification, now)
    if reason:
        _mine(notification, claimed_at).update(state=NotificationState.SKIPPED, last_error=reason, claimed_at=None)
        return NotificationState.SKIPPED
    try:
        external_id = deliver(notification, now)
    except TransportError as error:
        return record_failure(notification, claimed_at, error, now=now)
    except Exception as error:
        # A bug or a database hiccup must not leave the row claimed until the timeout:
        # record it as a failed attempt (a few retries, for a hiccup; then it fails, for a
        # bug) and keep the traceback in the log.
        logger.exception("Notification %s: unexpected error while sending", notification_id)
        give_up = notification.attempts >= INTERNAL_ERROR_ATTEMPTS
        message = f"Внутренняя ошибка: {type(error).__name__}" + (
            f" (после {notification.attempts} попыток; исправьте и отправьте ещё раз)" if give_up else ""
        )
        return record_failure(notification, claimed_at, TransportError(message, permanent=give_up), now=now)
    _mine(notification, claimed_at).update(
        state=NotificationState.SENT, sent_at=timezone.now(), claimed_at=None, last_error="", external_id=external_id
    )
    return NotificationState.SENT


def record_failure(notification: Notification, claimed_at: datetime, error: TransportError, *, now: datetime) -> str:
    """Write the outcome of a failed send: wait and retry, retry with backoff, or give up.

    Gives up on a permanent error at once, on a temporary one only once the row's time is
    over (``is_too_old``); otherwise retries after ``BACKOFF_SECONDS`` (capped at its last value).
    """
    mine = _mine(notification, claimed_at)
    if error.retry_after is not None and not error.permanent:
        # Telegram asked us to wait (or our limiter did): not the message's fault, not an attempt.
        retry_at = now + timedelta(seconds=error.retry_after)
        mine.update(state=NotificationState.PENDING, attempts=F("attempts") - 1, claimed_at=None,
                    next_attempt_at=retry_at, queued_at=retry_at, last_error=error.message)
        queue_send([notification.pk], countdown=error.retry_after)
        logger.info("Notification %s: rate limited, retry in %.1fs", notification.pk, error.retry_after)
        return NotificationState.PENDING
    too_old = is_too_old(notification, now)
    if error.permanent or too_old:
        message = error.message if error.permanent else f"{MAX_AGE_ERROR} {error.message}"
        mine.update(state=NotificationState.FAILED, claimed_at=None, last_error=message)
        logger.warning("Notification %s failed for good after %d attempt(s)", notification.pk, notification.attempts)
        if error.recipient_gone and notification.recipient_kind == RecipientKind.CLIENT:
            client_unreachable_in_telegram(notification.client_id, error.message)
        return NotificationState.FAILED
    delay = BACKOFF_SECONDS[min(notification.attempts, len(BACKOFF_SECONDS)) - 1]
    retry_at = now + timedelta(seconds=delay)
    mine.update(claimed_at=None, next_attempt_at=retry_at, queued_at=retry_at, last_error=error.message)
    if delay <= COUNTDOWN_LIMIT_SECONDS:
        queue_send([notification.pk], countdown=delay)
    logger.info("Notification %s: attempt %d failed, retry in %ds", notification.pk, notification.attempts, delay)
    return NotificationState.PENDING


def client_unreachable_in_telegram(client_id: int, error: str) -> None:
    """The client blocked the bot (or deleted the account): mark them and stop every pending message."""
    from clients.services import client_mark_telegram_blocked

    client_mark_telegram_blocked(client=Client.objects.get(pk=client_id))
    Notification.objects.filter(
        client_id=client_id, recipient_kind=RecipientKind.CLIENT, channel=NotificationChannel.TELEGRAM,
        state=NotificationState.PENDING, claimed_at__isnull=True,
    ).update(state=NotificationState.FAILED, last_error=error)


def notifications_retry(notification_ids: list[int], *, now: datetime | None = None) -> tuple[int, int]:
    """Staff asked to send failed rows again: they become pending with fresh attempts and are queued.

    A retried row gets a fresh ``MAX_AGE`` (``give_up_at``) and an empty error: without that,
    a row written more than ``MAX_AGE`` ago would fail again on its first temporary error,
    or as soon as the sweep saw it.

    A row that would not be sent any more (a «подтверждена» for a booking cancelled since,
    a reminder of a visit that is over) is marked skipped with the reason instead, so
    staff cannot resend a message that would mislead the client. Rows already sent,
    skipped or pending are left as they are. Returns (re-queued, skipped).
    """
    now = now or timezone.now()
    failed = Notification.objects.filter(pk__in=notification_ids, state=NotificationState.FAILED).select_related(
        "booking", "history"
    )
    ids, skipped = [], 0
    for notification in failed:
        reason = skip_reason(notification, now)
        if reason:
            skipped += Notification.objects.filter(pk=notification.pk, state=NotificationState.FAILED).update(
                state=NotificationState.SKIPPED, last_error=reason
            )
        else:
            ids.append(notification.pk)
    Notification.objects.filter(pk__in=ids, state=NotificationState.FAILED).update(
        state=NotificationState.PENDING, attempts=0, next_attempt_at=now, claimed_at=None, queued_at=now,
        give_up_at=now + MAX_AGE, last_error="",
    )
    transaction.on_commit(lambda: queue_send(ids))
    return len(ids), skipped
