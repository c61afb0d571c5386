"""Admin for the company, branches, bays, services and staff (Russian UI, unfold)."""

from datetime import timedelta

from django.contrib import admin
from django.db.models import Count, Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from unfold.admin import ModelAdmin, TabularInline
from unfold.decorators import display

from workshops import (
    admin_accounts,  # noqa: F401  (re-registers auth and third-party admins first)
    unfold_speedups,
)
from workshops.admin_scope import (
    BranchScopedAdminMixin,
    CompanyWideAdminMixin,
    ScopedChoicesMixin,
    scope_to_workshops,
    user_workshop_ids,
)
from workshops.models import (
    Bay,
    ClosedDay,
    Company,
    Service,
    StaffMembership,
    WorkingHours,
    Workshop,
)
from workshops.selectors import user_is_owner

unfold_speedups.install()


@admin.register(Company)
class CompanyAdmin(CompanyWideAdminMixin, ModelAdmin):
    """The one company (personal-data operator); its changelist opens the single row."""

    list_display = ("name", "inn", "phone", "email")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and not Company.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        company = Company.objects.first()
        if company is not None:
            return HttpResponseRedirect(reverse("admin:workshops_company_change", args=[company.pk]))
        return super().changelist_view(request, extra_context)


class WorkingHoursInline(ScopedChoicesMixin, TabularInline):
    model = WorkingHours
    extra = 0
    max_num = 7


class ClosedDayInline(ScopedChoicesMixin, TabularInline):
    model = ClosedDay
    extra = 0

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # Recent and future closed days; years of past holidays would only bury them.
        return super().get_queryset(request).filter(date__gte=timezone.localdate() - timedelta(days=60))


class BayInline(ScopedChoicesMixin, TabularInline):
    model = Bay
    extra = 0
    can_delete = False  # a bay keeps its bookings' history: switch «используется» off instead
    fields = ("name", "kind", "is_active", "position")


@admin.register(Workshop)
class WorkshopAdmin(BranchScopedAdminMixin, ModelAdmin):
    """Branches. Staff see and edit their own; only owners add branches."""

    branch_path = "pk"
    list_display = ("name", "slug", "timezone", "bays_count", "is_active", "journal_link")
    list_filter = ("is_active", "timezone")
    search_fields = ("name", "slug", "address")
    inlines = [WorkingHoursInline, ClosedDayInline, BayInline]
    ordering = ("name",)
    fieldsets = (
        (None, {"fields": ("name", "slug", "address", "phone", "timezone", "is_active")}),
        (
            "Правила записи",
            {
                "fields": (
                    "slot_step_minutes", "min_lead_minutes", "horizon_days",
                    "telegram_extra_days", "telegram_min_lead_minutes",
                )
            },
        ),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(bays_total=Count("bays"))

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        # The slug names the branch in commands and links; managers keep it as the owner set it.
        return () if user_is_owner(request.user) else ("slug",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return user_is_owner(request.user) and super().has_add_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # a branch keeps its bookings: switch «работает» off instead

    @display(description="постов", ordering="bays_total")
    def bays_count(self, obj: Workshop) -> int:
        return obj.bays_total

    @display(description="журнал")
    def journal_link(self, obj: Workshop) -> str:
        url = reverse("admin:bookings_booking_journal") + f"?workshop={obj.pk}"
        return format_html('<a href="{}" class="text-primary-600">Открыть</a>', url)


@admin.register(Bay)
class BayAdmin(BranchScopedAdminMixin, ModelAdmin):
    list_display = ("name", "workshop", "kind", "is_active", "position")
    list_filter = ("workshop", "kind", "is_active")
    list_select_related = ("workshop",)
    search_fields = ("name",)
    ordering = ("workshop__name", "position", "id")

    def get_choices_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_choices_queryset(request).select_related("workshop")

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # a bay keeps its bookings' history: switch «используется» off instead


@admin.register(Service)
class ServiceAdmin(BranchScopedAdminMixin, ModelAdmin):
    """The service catalogue. A manager edits services of their branches only; shared ones are read-only."""

    branch_path = "workshops"
    list_display = ("name", "duration_minutes", "price_from", "bay_kind", "branches", "is_active")
    list_filter = ("workshops", "bay_kind", "is_active")
    search_fields = ("name",)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # Only the user's branches are listed next to a shared service.
        visible = scope_to_workshops(Workshop.objects.all(), "pk", user_workshop_ids(request))
        return super().get_queryset(request).prefetch_related(Prefetch("workshops", queryset=visible))

    def has_change_permission(self, request: HttpRequest, obj: Service | None = None) -> bool:
        if not super().has_change_permission(request, obj):
            return False
        ids = user_workshop_ids(request)
        if not isinstance(obj, Service) or ids is None:
            return True
        # Changing a service shared with another branch would change that branch too.
        return not obj.workshops.exclude(pk__in=ids).exists()

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # bookings refer to it: switch «доступна для записи» off instead

    @display(description="филиалы")
    def branches(self, obj: Service) -> str:
        return ", ".join(w.name for w in obj.workshops.all())


@admin.register(StaffMembership)
class StaffMembershipAdmin(BranchScopedAdminMixin, ModelAdmin):
    """Who works where. Managers see their branches' staff; owners assign people to branches."""

    list_display = ("user", "workshop", "role")
    list_filter = ("workshop", "role")
    list_select_related = ("user", "workshop")
    search_fields = ("user__username", "user__first_name", "user__last_name")
    autocomplete_fields = ("user",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return user_is_owner(request.user) and super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return user_is_owner(request.user) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return user_is_owner(request.user) and super().has_delete_permission(request, obj)
