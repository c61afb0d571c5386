"""Admin for notifications: the outbox, read-only, scoped to the staff member's branches.

Registered from ``BookingsConfig.ready``. ``BookingNotificationInline`` and
``BOOKING_NOTIFICATION_FIELDS`` are for the booking admin (the lead merges them there);
until a booking admin exists, a minimal one is registered here so the booking page shows
its notifications and rating.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from unfold.admin import ModelAdmin, TabularInline
from unfold.decorators import action, display

from bookings.models import Booking, Notification, NotificationState
from bookings.notifications.dispatch import notifications_retry
from bookings.notifications.render import TEMPLATE_TITLES
from workshops.selectors import workshop_ids_for_user

STATE_COLORS = {
    NotificationState.PENDING: "info",
    NotificationState.SENT: "success",
    NotificationState.FAILED: "danger",
    NotificationState.SKIPPED: "warning",
}
# For the booking admin's fieldsets: the client's rating of the visit.
BOOKING_NOTIFICATION_FIELDS = ("rating", "rated_at")


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
class NotificationAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ("created_at", "what", "to", "channel", "status", "attempts", "last_error", "sent_at", "booking")
    list_filter = ("state", "channel", "template_key", "workshop")
    list_select_related = ("client", "user", "workshop", "booking__workshop", "booking__service", "booking__client")
    search_fields = ("=booking__id", "client__name", "last_error")
    date_hierarchy = "created_at"
    actions = ["retry"]
    fields = (
        "booking", "workshop", "history", "recipient_kind", "client", "user", "email", "channel", "template_key",
        "payload", "state", "attempts", "next_attempt_at", "claimed_at", "queued_at", "sent_at", "last_error",
        "external_id", "created_at",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return scoped_to_branches(super().get_queryset(request), request)

    def get_list_filter(self, request: HttpRequest):
        # The branch filter would list every branch's name; only owners see them all.
        if workshop_ids_for_user(request.user) is None:
            return self.list_filter
        return tuple(f for f in self.list_filter if f != "workshop")

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
        count = notifications_retry(list(queryset.values_list("id", flat=True)))
        messages.info(request, f"Поставлено в очередь: {count}.")


class BookingNotificationInline(ReadOnlyAdminMixin, TabularInline):
    """The booking's notifications with state and error: staff see a reminder that was not delivered."""

    model = Notification
    fk_name = "booking"
    extra = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = "уведомления"
    fields = ("created_at", "what", "to", "channel", "state_label", "sent_at", "last_error")
    readonly_fields = fields
    ordering = ("created_at", "id")

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        # Whoever may see the booking (already scoped to their branches) sees what it sent.
        return request.user.has_perm("bookings.view_booking") or request.user.has_perm("bookings.change_booking")

    @display(description="сообщение")
    def what(self, obj: Notification) -> str:
        return _template_title(obj)

    @display(description="кому")
    def to(self, obj: Notification) -> str:
        return _recipient(obj)

    @display(description="состояние")
    def state_label(self, obj: Notification) -> str:
        if obj.state == NotificationState.FAILED:
            return format_html("<strong>⚠ {}</strong>", obj.get_state_display())
        return obj.get_state_display()


class NotificationsBookingAdmin(ReadOnlyAdminMixin, ModelAdmin):
    """Stand-in booking page until the booking admin is merged: the booking, its rating and notifications."""

    list_display = ("__str__", "workshop", "status", "rating")
    list_filter = ("status", "workshop")
    inlines = [BookingNotificationInline]
    readonly_fields = ("workshop", "bay", "service", "client", "vehicle", "starts_at", "ends_at", "status",
                       "channel", "comment", "created_at", *BOOKING_NOTIFICATION_FIELDS)
    fields = readonly_fields

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return scoped_to_branches(super().get_queryset(request), request)


def register_booking_admin_if_missing() -> None:
    if not admin.site.is_registered(Booking):
        admin.site.register(Booking, NotificationsBookingAdmin)
