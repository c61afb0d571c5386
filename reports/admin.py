"""The owner dashboard (an admin page with charts and one-click exports) and report subscriptions.

Owners see every branch; a manager sees only their own (``report_workshops_for_user``),
in the page, in its choices and in every file it exports.
"""

import tempfile

from django.contrib import admin, messages
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.views.generic import TemplateView
from unfold.admin import ModelAdmin
from unfold.views import UnfoldModelAdminViewMixin

from reports.dashboard import dashboard_context
from reports.exports import (
    CONTENT_TYPES,
    FORMATS,
    ReportData,
    report_filename,
    write_report,
)
from reports.forms import EXPORT_FORMATS, ReportFilterForm, default_selection
from reports.models import Dashboard, ReportSubscription
from reports.selectors import user_sees_reports
from workshops.admin_scope import OwnerOnlyAdminMixin, SelfScopedAdminMixin
from workshops.selectors import user_is_owner


def _selection(request: HttpRequest):
    """The filter form and the branches and period it selects (defaults when it is invalid)."""
    form = ReportFilterForm(request.GET or None, user=request.user)
    if form.is_bound and form.is_valid():
        return form, *form.selection()
    return form, *default_selection(request.user)


class DashboardView(UnfoldModelAdminViewMixin, TemplateView):
    title = "Панель владельца"
    permission_required = ()
    template_name = "reports/dashboard.html"

    def has_permission(self) -> bool:
        return user_sees_reports(self.request.user)

    def get_context_data(self, **kwargs):
        form, workshops, period = _selection(self.request)
        data = ReportData.build(workshops=workshops, period=period)
        return super().get_context_data(
            **kwargs,
            **dashboard_context(data.report, data.previous),
            form=form,
            export_links=[(label, self._export_url(fmt)) for fmt, label in EXPORT_FORMATS.items()],
        )

    def _export_url(self, fmt: str) -> str:
        query = self.request.GET.copy()
        query["format"] = fmt
        return f"{reverse('admin:reports_dashboard_export')}?{query.urlencode()}"


def export_view(request: HttpRequest) -> HttpResponse:
    """The dashboard's period and branch as an XLSX or CSV file (streamed from a temporary file)."""
    if not user_sees_reports(request.user):
        return HttpResponse("Нет доступа к отчётам.", status=403)
    fmt = request.GET.get("format", "xlsx")
    form, workshops, period = _selection(request)
    if fmt not in FORMATS or (form.is_bound and not form.is_valid()):
        messages.error(request, "Не удалось выгрузить отчёт: проверьте период и формат.")
        return HttpResponseRedirect(reverse("admin:reports_dashboard_changelist"))
    data = ReportData.build(workshops=workshops, period=period)
    spool = tempfile.TemporaryFile()
    write_report(data, fmt, spool)
    spool.seek(0)
    return FileResponse(spool, as_attachment=True, filename=report_filename(period, fmt, workshops),
                        content_type=CONTENT_TYPES[fmt])


@admin.register(Dashboard)
class DashboardAdmin(SelfScopedAdminMixin, ModelAdmin):
    """No table behind it: its changelist URL is the dashboard, so it sits in the menu under «Отчёты»."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return user_sees_reports(request.user)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return user_sees_reports(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_urls(self):
        return [
            path("", self.admin_site.admin_view(DashboardView.as_view(model_admin=self)),
                 name="reports_dashboard_changelist"),
            path("export/", self.admin_site.admin_view(export_view), name="reports_dashboard_export"),
        ]


@admin.register(ReportSubscription)
class ReportSubscriptionAdmin(OwnerOnlyAdminMixin, ModelAdmin):
    """Owners switch the weekly e-mail on and off per recipient."""

    list_display = ("user", "workshop", "is_active", "last_sent_at")
    list_filter = ("is_active", "workshop")
    list_editable = ("is_active",)
    readonly_fields = ("last_sent_monday", "last_sent_at")
    autocomplete_fields = ()

    def has_module_permission(self, request: HttpRequest) -> bool:
        return user_is_owner(request.user)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return user_is_owner(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return user_is_owner(request.user)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return user_is_owner(request.user)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return user_is_owner(request.user)
