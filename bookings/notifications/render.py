"""Text of a notification: rendered from ``templates/notifications/`` when it is sent.

One text template per message (``<key>.txt``) serves Telegram and the e-mail's text
part; e-mail adds ``<key>.subject.txt`` and ``<key>.html``. Staff wording changes in the
templates, never in code. An e-mail another app composes (the weekly owner report, with
its XLSX) is rendered by that app's function named in ``EMAIL_RENDERERS``. Buttons are built here because their callback data is a
contract with the bot's handlers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from django.template import Context
from django.template.loader import get_template
from django.utils import timezone
from django.utils.module_loading import import_string

from bookings.models import (
    Booking,
    BookingEvent,
    BookingStatus,
    Notification,
    NotificationChannel,
    NotificationState,
    RecipientKind,
)
from clients.models import Consent, ConsentPurpose
from clients.normalize import format_phone
from clients.unsubscribe import unsubscribe_url
from workshops.models import Workshop

WEEKDAYS = ["пн", "вт", "ср", "чт", "пт", "сб", "вс"]
TEMPLATE_TITLES = {
    "manager_new_booking": "менеджерам: новая запись",
    "manager_booking_changed": "менеджерам: изменение записи",
    "client_booking_confirmed": "клиенту: запись подтверждена",
    "client_booking_cancelled": "клиенту: запись отменена",
    "client_booking_rescheduled": "клиенту: запись перенесена",
    "client_reminder": "клиенту: напоминание",
    "client_thanks": "клиенту: спасибо и оценка",
    "client_return_nudge": "клиенту: приглашение вернуться",
    "owner_weekly_report": "еженедельный отчёт",
}
# template_key → "module.function(notification, *, now) -> EmailMessage", imported when
# sending, so the outbox does not depend on the apps whose e-mails it carries.
EMAIL_RENDERERS = {
    "owner_weekly_report": "reports.services.weekly_report_email",
}
RATING_LABELS = {1: "1", 2: "2", 3: "3", 4: "4", 5: "5 ⭐"}
# Messages sent only with a marketing consent: their e-mails carry an unsubscribe link.
MARKETING_KEYS = frozenset({"client_return_nudge"})


@dataclass(frozen=True)
class TelegramMessage:
    text: str
    reply_markup: dict | None = None


@dataclass(frozen=True)
class EmailMessage:
    """``attachments``: (filename, content, MIME type) triples, built at send time; ``headers``: extra ones."""

    subject: str
    text: str
    html: str
    attachments: tuple[tuple[str, bytes, str], ...] = ()
    headers: dict[str, str] = field(default_factory=dict)


def local_when(moment: datetime | None, workshop: Workshop) -> str:
    """«14.03.2026 (пт) в 10:00» in the branch's time zone."""
    if moment is None:
        return ""
    local = moment.astimezone(workshop.tz)
    return f"{local:%d.%m.%Y} ({WEEKDAYS[local.weekday()]}) в {local:%H:%M}"


def relative_when(moment: datetime, workshop: Workshop, now: datetime) -> str:
    """«сегодня в 10:00», «завтра в 10:00» or the full date, as the client's wall clock reads."""
    local, today = moment.astimezone(workshop.tz), now.astimezone(workshop.tz).date()
    days = (local.date() - today).days
    if days == 0:
        return f"сегодня в {local:%H:%M}"
    if days == 1:
        return f"завтра в {local:%H:%M}"
    return local_when(moment, workshop)


def _who(notification: Notification) -> str:
    history = notification.history
    if history is None:
        return ""
    if history.by_user is not None:
        return history.by_user.get_full_name() or history.by_user.get_username()
    return history.actor or "клиент"


def time_client_knew(notification: Notification) -> datetime | None:
    """The visit time the client last heard of, for «Было» in a reschedule message.

    Not the row's own ``old_starts_at``: a reschedule message skipped as stale (see
    ``dispatch.stale_status_reason``) never reached the client, so the next one must say
    «Было» the time of the latest reschedule message that was sent, or else the time
    the booking was made for (the first reschedule's ``old_starts_at``).
    """
    booking = notification.booking
    last_sent = (
        Notification.objects.filter(
            booking=booking, recipient_kind=RecipientKind.CLIENT, template_key=notification.template_key,
            state=NotificationState.SENT, history__isnull=False,
        ).exclude(pk=notification.pk).select_related("history").order_by("-sent_at", "-id").first()
    )
    if last_sent is not None:
        return last_sent.history.new_starts_at
    first = booking.history.filter(event=BookingEvent.RESCHEDULED).order_by("at", "id").first()
    return first.old_starts_at if first is not None else notification.history.old_starts_at


def context_for(notification: Notification, *, now: datetime | None = None) -> dict:
    """Everything a template may show, read from the database now (the row stores references only)."""
    now = now or timezone.now()
    booking: Booking | None = notification.booking
    workshop = notification.workshop or (booking.workshop if booking else None)
    client = notification.client or (booking.client if booking else None)
    context: dict = {
        "notification": notification, "booking": booking, "workshop": workshop, "client": client,
        "payload": notification.payload, "history": notification.history, "actor": _who(notification),
        "telegram": notification.channel == NotificationChannel.TELEGRAM,
    }
    if booking is not None:
        context.update(
            service=booking.service, vehicle=booking.vehicle,
            when=local_when(booking.starts_at, booking.workshop),
            when_relative=relative_when(booking.starts_at, booking.workshop, now),
            visit_date=f"{booking.starts_at.astimezone(booking.workshop.tz):%d.%m.%Y}",
            is_new=booking.status == BookingStatus.NEW,
        )
        if notification.recipient_kind != RecipientKind.CLIENT:
            # Staff call the client back; the client needs no reminder of their own number.
            phone = booking.client.phones.order_by("position", "id").first()
            context["phone"] = format_phone(phone.number) if phone else ""
        if notification.history is not None:
            context.update(
                old_when=local_when(notification.history.old_starts_at, booking.workshop),
                new_when=local_when(notification.history.new_starts_at, booking.workshop),
            )
            if notification.template_key == "client_booking_rescheduled":
                context["old_when"] = local_when(time_client_knew(notification), booking.workshop)
        if notification.template_key == "manager_new_booking":
            context["past_visits"] = Booking.objects.filter(
                client_id=booking.client_id, status=BookingStatus.COMPLETED, starts_at__lt=booking.starts_at
            ).count()
    return context


def _render_text(template_name: str, context: dict) -> str:
    """Plain text: no HTML escaping, trailing spaces and runs of blank lines removed."""
    text = get_template(template_name).template.render(Context(context, autoescape=False))
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines))


def has_marketing_consent(client_id: int | None) -> bool:
    return client_id is not None and Consent.objects.filter(
        client_id=client_id, purpose=ConsentPurpose.MARKETING, withdrawn_at__isnull=True
    ).exists()


def _button(text: str, data: str) -> dict:
    return {"text": text, "callback_data": data}


def keyboard_for(notification: Notification) -> dict | None:
    """Inline buttons. ``bk:cancel`` / ``bk:resched`` are handled by the bot (issue 3), ``nt:*`` by ours."""
    booking = notification.booking
    if booking is None:
        return None
    key = notification.template_key
    if key == "manager_new_booking" and booking.status == BookingStatus.NEW:
        rows = [[_button("✅ Подтвердить", f"nt:mgr:confirm:{booking.pk}"),
                 _button("❌ Отменить", f"nt:mgr:cancel:{booking.pk}")]]
    elif key == "client_reminder":
        rows = [[_button("👍 Приеду", f"nt:come:{booking.pk}")],
                [_button("Отменить", f"bk:cancel:{booking.pk}"), _button("Перенести", f"bk:resched:{booking.pk}")]]
    elif key == "client_thanks":
        rows = [[_button(label, f"nt:rate:{booking.pk}:{value}") for value, label in RATING_LABELS.items()]]
        if not has_marketing_consent(notification.client_id):
            rows.append([_button("🔔 Напоминать о плановом ТО", "nt:ads:ask")])
    else:
        return None
    return {"inline_keyboard": rows}


def render_telegram(notification: Notification, *, now: datetime | None = None) -> TelegramMessage:
    text = _render_text(f"notifications/{notification.template_key}.txt", context_for(notification, now=now))
    return TelegramMessage(text=text, reply_markup=keyboard_for(notification))


def render_email(notification: Notification, *, now: datetime | None = None) -> EmailMessage:
    if notification.template_key in EMAIL_RENDERERS:
        return import_string(EMAIL_RENDERERS[notification.template_key])(notification, now=now)
    context = context_for(notification, now=now)
    key = notification.template_key
    headers = {}
    if key in MARKETING_KEYS and notification.client_id:
        # A client without Telegram cannot send /stop_ads: a link, and the header mail programs
        # turn into an «unsubscribe» button (one click, RFC 8058).
        context["unsubscribe_url"] = unsubscribe_url(notification.client_id)
        headers = {"List-Unsubscribe": f"<{context['unsubscribe_url']}>",
                   "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    return EmailMessage(
        subject=_render_text(f"notifications/{key}.subject.txt", context),
        text=_render_text(f"notifications/{key}.txt", context),
        html=get_template(f"notifications/{key}.html").render(context),
        headers=headers,
    )
