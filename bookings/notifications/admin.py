"""Admin for notifications: the outbox, read-only, scoped to the staff member's branches.

Registered from ``BookingsConfig.ready``. ``booking_notifications_table`` is used by the booking
admin (``bookings/admin.py``) so the booking page shows its notifications.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from unfold.admin import ModelAdmin
from unfold.decorators import action, display

from bookings.models import Booking, Notification, NotificationState
from bookings.notifications.dispatch import notifications_retry
from bookings.notifications.render import TEMPLATE_TITLES
from workshops.admin_scope import BranchScopedAdminMixin
from workshops.selectors import workshop_ids_for_user

STATE_COLORS = {
    NotificationState.PENDING: "info",
    NotificationState.SENT: "success",
    NotificationState.FAILED: "danger",
    NotificationState.SKIPPED: "warning",
}


def scoped_to_branches(queryset: QuerySet, request: HttpRequest, field: str = "workshop_id") -> QuerySet:
    ids = workshop_ids_for_user(request.user)
    return queryset if ids is None else queryset.filter(**{f"{field}__in": ids})


class ReadOnlyAdminMixin:
    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


def _template_title(obj: Notification) -> str:
    return TEMPLATE_TITLES.get(obj.template_key, obj.template_key)


def _recipient(obj: Notification) -> str:
    if obj.client_id:
        return f"{obj.get_recipient_kind_display()}: {obj.client}"
    if obj.user_id:
        return f"{obj.get_recipient_kind_display()}: {obj.user}"
    if obj.email:
        return obj.email
    return f"{obj.get_recipient_kind_display()} ({obj.workshop})" if obj.workshop_id else obj.get_recipient_kind_display()


@admin.register(Notification)
class NotificationAdmin(BranchScopedAdminMixin, ReadOnlyAdminMixin, ModelAdmin):
    list_display = ("created_at", "what", "to", "channel", "status", "attempts", "last_error", "sent_at", "booking")
    list_filter = ("state", "channel", "template_key", "workshop")
    list_select_related = ("client", "user", "workshop", "booking__workshop", "booking__service", "booking__client")
    search_fields = ("=booking__id", "client__name", "last_error")
    date_hierarchy = "created_at"
    actions = ["retry"]
    fields = (
        "booking", "workshop", "history", "recipient_kind", "client", "user", "email", "channel", "template_key",
        "payload", "state", "attempts", "next_attempt_at", "give_up_at", "claimed_at", "queued_at", "sent_at", "last_error",
        "external_id", "created_at",
    )
    readonly_fields = fields

    @display(description="сообщение", ordering="template_key")
    def what(self, obj: Notification) -> str:
        return _template_title(obj)

    @display(description="кому")
    def to(self, obj: Notification) -> str:
        return _recipient(obj)

    @display(description="состояние", ordering="state", label=STATE_COLORS)
    def status(self, obj: Notification) -> tuple[str, str]:
        return obj.state, obj.get_state_display()

    @action(description="Отправить ещё раз (только недоставленные)", permissions=["view"])
    def retry(self, request: HttpRequest, queryset: QuerySet) -> None:
        queued, skipped = notifications_retry(list(queryset.values_list("id", flat=True)))
        text = f"Поставлено в очередь: {queued}."
        if skipped:
            text += f" Уже не нужны и не отправлены: {skipped} — причина в колонке «ошибка»."
        messages.info(request, text)


def booking_notifications_table(booking: Booking) -> str:
    """The booking's notifications with state and error, for its admin page: staff see a
    reminder that was not delivered (and why) where they look at the booking."""
    rows = []
    for note in booking.notifications.select_related("client", "user").order_by("created_at", "id"):
        state = note.get_state_display()
        if note.state == NotificationState.FAILED:
            state = format_html("<strong>⚠ {}</strong>", state)
        sent = note.sent_at.astimezone(booking.workshop.tz).strftime("%d.%m.%Y %H:%M") if note.sent_at else "—"
        rows.append((_template_title(note), _recipient(note), note.get_channel_display(), state, sent, note.last_error))
    if not rows:
        return "—"
    body = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows)
    return format_html(
        '<table class="booking-history"><thead><tr><th>сообщение</th><th>кому</th><th>канал</th><th>состояние</th>'
        "<th>отправлено</th><th>ошибка</th></tr></thead><tbody>{}</tbody></table>",
        body,
    )
