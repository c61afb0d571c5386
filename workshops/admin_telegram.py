"""Admin for staff Telegram links: each staff member gets their one-time code here.

Registered from ``WorkshopsConfig.ready``. A staff member sees only their own link; an
owner sees everyone's.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from unfold.admin import ModelAdmin
from unfold.decorators import action, display

from workshops.admin_scope import SelfScopedAdminMixin
from workshops.models import StaffTelegramLink
from workshops.selectors import user_is_owner
from workshops.staff_telegram import staff_telegram_code_issue


@admin.register(StaffTelegramLink)
class StaffTelegramLinkAdmin(SelfScopedAdminMixin, ModelAdmin):
    list_display = ("user", "linked", "telegram_user_id", "linked_at", "code_now")
    actions_list = ["issue_code"]
    readonly_fields = ("user", "telegram_user_id", "linked_at", "code_now")
    fields = readonly_fields

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request).select_related("user")
        return queryset if user_is_owner(request.user) else queryset.filter(user=request.user)

    # Every staff member may open the list to get their own code; nobody edits rows by hand.
    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return self.has_module_permission(request) and (
            obj is None or obj.user_id == request.user.pk or user_is_owner(request.user)
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return user_is_owner(request.user)

    @display(description="привязан", boolean=True)
    def linked(self, obj: StaffTelegramLink) -> bool:
        return bool(obj.telegram_user_id)

    @display(description="код для бота")
    def code_now(self, obj: StaffTelegramLink) -> str:
        if obj.code and obj.code_expires_at and obj.code_expires_at > timezone.now():
            return f"/link {obj.code} (до {timezone.localtime(obj.code_expires_at):%H:%M})"
        return "—"

    @action(description="Привязать мой Telegram: получить код", url_path="issue-code", icon="link")
    def issue_code(self, request: HttpRequest) -> HttpResponseRedirect:
        link = staff_telegram_code_issue(user=request.user)
        messages.success(
            request,
            f"Отправьте нашему боту в личном чате: /link {link.code} — код действует до "
            f"{timezone.localtime(link.code_expires_at):%H:%M} и подходит один раз.",
        )
        return HttpResponseRedirect(reverse("admin:workshops_stafftelegramlink_changelist"))
