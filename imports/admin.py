"""«Импорт клиентов» in admin: upload → preview (summary, problem rows, columns) → confirm.

Follows django-import-export's admin flow (a permission, the list of formats, preview
before confirm) with our engine underneath: the preview of a big file is its summary and
problem rows, not a page per row, and big files are imported by a Celery task after
confirmation while the page shows progress. Staff see only jobs of their branches and can
pick only their branches.
"""

from typing import Any

from django.contrib import admin, messages
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from unfold.admin import ModelAdmin

from imports import limits
from imports.forms import ColumnMappingForm, ImportUploadForm
from imports.models import ImportJob, ImportStatus
from imports.readers import FORMAT_LABELS
from imports.records import STATUS_LABELS
from imports.selectors import conflicts_for_user
from imports.services import (
    import_job_confirm,
    import_job_create,
    import_job_preview,
    import_job_progress,
    import_job_set_mapping,
)
from imports.summary_text import summary_lines
from workshops.admin_scope import BranchScopedAdminMixin
from workshops.errors import DomainError

IMPORT_PERMISSION = "imports.import_clients"


@admin.register(ImportJob)
class ImportJobAdmin(BranchScopedAdminMixin, ModelAdmin):
    list_display = ("created_at", "original_name", "workshop", "status", "progress", "result", "created_by")
    list_filter = ("status", "workshop")
    list_display_links = ("created_at", "original_name")
    search_fields = ("original_name",)

    # --- who sees it ---------------------------------------------------------------
    def _allowed(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_staff and request.user.has_perm(IMPORT_PERMISSION)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._allowed(request)

    def has_view_permission(self, request: HttpRequest, obj: ImportJob | None = None) -> bool:
        return self._allowed(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._allowed(request)

    def has_change_permission(self, request: HttpRequest, obj: ImportJob | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ImportJob | None = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).select_related("workshop", "created_by")

    @admin.display(description="итог")
    def result(self, job: ImportJob) -> str:
        if job.error:
            return job.error[:80]
        counts = job.summary.get("counts", {})
        if not counts:
            return ""
        return (f"новых {counts.get('new', 0)}, дополнено {counts.get('updated', 0)}, "
                f"объединено {counts.get('merged', 0)}, отклонено {counts.get('rejected', 0)}")

    # --- the flow ------------------------------------------------------------------
    def get_urls(self) -> list:
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/preview/", wrap(self.preview_view), name="imports_importjob_preview"),
            path("<int:pk>/progress/", wrap(self.progress_view), name="imports_importjob_progress"),
            path("<int:pk>/rejected/", wrap(self.rejected_view), name="imports_importjob_rejected"),
            *super().get_urls(),
        ]

    def _job(self, request: HttpRequest, pk: int) -> ImportJob:
        if not self._allowed(request):
            raise Http404
        return get_object_or_404(self.get_queryset(request), pk=pk)

    def _preview_url(self, job: ImportJob) -> str:
        return reverse("admin:imports_importjob_preview", args=[job.pk])

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: dict | None = None) -> HttpResponse:
        if not self._allowed(request):
            raise Http404
        form = ImportUploadForm(request.POST or None, request.FILES or None, user=request.user)
        if request.method == "POST" and form.is_valid():
            try:
                job = import_job_create(workshop=form.cleaned_data["workshop"], user=request.user,
                                        upload=form.cleaned_data["file"])
            except DomainError as exc:
                form.add_error("file", exc.message)
            else:
                import_job_preview(job=job)
                return HttpResponseRedirect(self._preview_url(job))
        context = {
            **self.admin_site.each_context(request), "opts": self.model._meta, "title": "Импорт клиентов",
            "form": form, "formats": list(FORMAT_LABELS.values()), "max_mb": limits.MAX_FILE_BYTES // (1024 * 1024),
            "max_rows": limits.MAX_ROWS,
        }
        return TemplateResponse(request, "imports/admin/upload.html", context)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None):
        job = self._job(request, int(object_id))
        return HttpResponseRedirect(self._preview_url(job))

    def preview_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        job = self._job(request, pk)
        columns = job.summary.get("columns", [])
        mapping_form = ColumnMappingForm(
            request.POST if request.POST.get("action") == "remap" else None,
            columns=columns, header_row=job.summary.get("header_row") or job.header_row,
        ) if columns else None
        if request.method == "POST" and job.status in (ImportStatus.UPLOADED, ImportStatus.PREVIEWED):
            action = request.POST.get("action")
            if action == "remap" and mapping_form is not None and mapping_form.is_valid():
                import_job_set_mapping(job=job, mapping=mapping_form.mapping(),
                                       header_row=mapping_form.cleaned_data.get("header_row"))
                return HttpResponseRedirect(self._preview_url(job))
            if action == "confirm" and job.status == ImportStatus.PREVIEWED:
                try:
                    queued = import_job_confirm(job=job)
                except DomainError as exc:
                    messages.error(request, exc.message)
                else:
                    job.refresh_from_db()
                    if queued:
                        messages.info(request, "Файл большой — загрузка идёт в фоне, прогресс на этой странице.")
                    elif job.status == ImportStatus.DONE:
                        messages.success(request, " ".join(summary_lines(job.summary, problem_rows=0)[:3]))
                    else:
                        messages.error(request, job.error)
                return HttpResponseRedirect(self._preview_url(job))
        summary = job.summary
        problems = summary.get("problems", [])
        for row in problems:
            row["status_label"] = STATUS_LABELS.get(row["status"], row["status"])
        context = {
            **self.admin_site.each_context(request), "opts": self.model._meta, "title": f"Импорт: {job.original_name}",
            "job": job, "summary": summary, "counts": summary.get("counts", {}), "problems": problems,
            "conflicts": conflicts_for_user(request.user, summary.get("conflicts", [])), "mapping_form": mapping_form,
            "lines": summary_lines(summary, problem_rows=0) if summary.get("counts") else [],
            "in_progress": job.status in (ImportStatus.QUEUED, ImportStatus.RUNNING),
            "progress": import_job_progress(job),
            "can_confirm": job.status == ImportStatus.PREVIEWED,
            "can_remap": job.status in (ImportStatus.UPLOADED, ImportStatus.PREVIEWED),
            "status_labels": STATUS_LABELS,
        }
        return TemplateResponse(request, "imports/admin/preview.html", context)

    def progress_view(self, request: HttpRequest, pk: int) -> JsonResponse:
        job = self._job(request, pk)
        return JsonResponse({"status": job.status, "progress": import_job_progress(job), "error": job.error})

    def rejected_view(self, request: HttpRequest, pk: int) -> FileResponse:
        job = self._job(request, pk)
        if not job.rejected_file:
            raise Http404
        return FileResponse(job.rejected_file.open("rb"), as_attachment=True,
                            filename=f"otklonennye-{job.pk}.xlsx")

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None):
        return super().changelist_view(request, {**(extra_context or {}), "title": "Импорт клиентов"})
