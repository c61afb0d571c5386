"""Import jobs: upload, preview (a dry run), confirm, run. One function per step; admin, command
and the Celery task call these.
"""

import hashlib
import logging
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from imports import limits
from imports.engine import ImportResult, run_import
from imports.errors import FileTooLarge, ImportRefused, log_unexpected
from imports.models import ImportJob, ImportStatus
from imports.rejected import rejected_rows_xlsx
from workshops.errors import DomainError
from workshops.models import Workshop

logger = logging.getLogger(__name__)


class ImportNotAllowed(DomainError):
    code = "import_not_allowed"
    default_message = "Нет права загружать клиентов в этот филиал."


def import_job_create(*, workshop: Workshop, user: AbstractBaseUser | None, upload: UploadedFile) -> ImportJob:
    """Store the uploaded file as a new job (nothing is read yet). Refuses files over the size limit."""
    if upload.size is not None and upload.size > limits.MAX_FILE_BYTES:
        raise FileTooLarge(
            f"Файл больше {limits.MAX_FILE_BYTES // (1024 * 1024)} МБ. Разбейте его на части или удалите лишние колонки."
        )
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    job = ImportJob(workshop=workshop, created_by=user, original_name=upload.name[:255], file_sha256=digest.hexdigest())
    job.file.save(upload.name, upload, save=False)
    job.save()
    return job


def _mapping(job: ImportJob) -> dict[int, str] | None:
    return {int(k): v for k, v in job.mapping.items()} if job.mapping else None


def _read(job: ImportJob) -> bytes:
    with job.file.open("rb") as handle:
        return handle.read()


def import_job_preview(*, job: ImportJob) -> ImportResult | None:
    """Validate the whole file without writing; store the summary for the preview page.

    A file that cannot be read keeps the job ``uploaded`` with ``error`` set (and for an
    unrecognised header, the columns to map by hand in ``summary["columns"]``).
    """
    try:
        result = run_import(data=_read(job), filename=job.original_name, workshop=job.workshop, dry_run=True,
                            mapping=_mapping(job), header_row=job.header_row)
    except ImportRefused as exc:
        _refused(job, exc.message, exc.details.get("columns"))
        return None
    except Exception as exc:
        log_unexpected(logger, f"import job {job.pk}: preview failed", exc)
        _refused(job, "Файл не удалось проверить из-за внутренней ошибки. Сообщите администратору.", None)
        return None
    job.summary = result.summary
    job.file_format = result.summary["format"]
    job.data_rows = result.summary["data_rows"]
    job.error, job.status = "", ImportStatus.PREVIEWED
    job.save(update_fields=["summary", "file_format", "data_rows", "error", "status"])
    return result


def _refused(job: ImportJob, message: str, columns: list[str] | None) -> None:
    """The job back to ``uploaded`` with the reason; the columns to map by hand are the refusal's,
    or, when it names none, the ones staff were mapping (so the form stays to correct it)."""
    if columns:
        job.summary = {"columns": [{"index": i, "label": c, "field": "", "recognised": False, "samples": []}
                                   for i, c in enumerate(columns)]}
    else:
        job.summary = {"columns": job.summary["columns"]} if job.summary.get("columns") else {}
    job.error, job.status = message, ImportStatus.UPLOADED
    job.save(update_fields=["summary", "error", "status"])


def import_job_set_mapping(*, job: ImportJob, mapping: dict[int, str], header_row: int | None) -> ImportResult | None:
    """Correct the column mapping (column index → field) and preview again."""
    job.mapping = {str(k): v for k, v in mapping.items()}
    job.header_row = header_row
    job.save(update_fields=["mapping", "header_row"])
    return import_job_preview(job=job)


def import_job_confirm(*, job: ImportJob) -> bool:
    """Start the import of a previewed job: small files now, big ones in a Celery task after commit.

    Returns ``True`` when the import was queued (the caller shows progress), ``False`` when done now.
    """
    # Conditional: a second click may carry a job loaded before the first one's run finished.
    if not ImportJob.objects.filter(pk=job.pk, status=ImportStatus.PREVIEWED).update(status=ImportStatus.QUEUED):
        raise DomainError("Этот импорт уже запущен или не прошёл проверку.", code="import_not_previewed")
    if job.data_rows > limits.ASYNC_ROWS:
        from imports.tasks import import_job_task

        transaction.on_commit(lambda: import_job_task.delay(job.pk))
        return True
    import_job_run(job_id=job.pk)
    return False


def _claim(job_id: int) -> bool:
    """Exactly one runner gets the job (claim before work: a retried task finds it taken)."""
    return bool(
        ImportJob.objects.filter(pk=job_id, status__in=[ImportStatus.PREVIEWED, ImportStatus.QUEUED])
        .update(status=ImportStatus.RUNNING, started_at=timezone.now(), progress=0)
    )


PROGRESS_TTL = 24 * 3600


def _progress_key(job: ImportJob) -> str:
    """Per run (its start time in it): a job number can come back after a database restore."""
    return f"imports:job:{job.pk}:{job.started_at.timestamp() if job.started_at else 0}:progress"


def import_job_progress(job: ImportJob) -> int:
    """How far ``job`` is, in percent, as the page polling it should show it."""
    if job.status == ImportStatus.RUNNING:
        return max(job.progress, cache.get(_progress_key(job)) or 0)
    return job.progress


def import_job_run(*, job_id: int) -> ImportJob:
    """Import a confirmed job's file into its branch; the job keeps the summary and the rejected rows."""
    job = ImportJob.objects.select_related("workshop").get(pk=job_id)
    if not _claim(job_id):
        return job
    job.refresh_from_db(fields=["started_at"])
    key = _progress_key(job)

    def progress(percent: int) -> None:
        # Also to the cache: from 50 % on the engine reports inside its transaction, where the
        # job row's own update stays invisible to the page polling it until the import commits.
        cache.set(key, percent, timeout=PROGRESS_TTL)
        ImportJob.objects.filter(pk=job_id).update(progress=percent)

    try:
        result = run_import(data=_read(job), filename=job.original_name, workshop=job.workshop,
                            mapping=_mapping(job), header_row=job.header_row, progress=progress)
    except ImportRefused as exc:
        ImportJob.objects.filter(pk=job_id).update(status=ImportStatus.FAILED, error=exc.message,
                                                   finished_at=timezone.now())
        job.refresh_from_db()
        return job
    except Exception as exc:
        # Not raised on: the job says what happened, and Django's or Celery's own log of the
        # exception would carry its message (the cell a parser choked on).
        log_unexpected(logger, f"import job {job_id} failed", exc)
        ImportJob.objects.filter(pk=job_id).update(
            status=ImportStatus.FAILED, finished_at=timezone.now(),
            error="Внутренняя ошибка при загрузке: ничего не изменено. Сообщите администратору.",
        )
        job.refresh_from_db()
        return job
    job.refresh_from_db()
    try:
        rejected = rejected_rows_xlsx(result.outcomes)
    except Exception as exc:  # the clients are in already: the job must still say so
        log_unexpected(logger, f"import job {job_id}: rejected rows file not made", exc)
        rejected, job.error = b"", "Клиенты загружены, но файл с отклонёнными строками не удалось составить."
    if rejected:
        job.rejected_file.save(f"rejected-{job.pk}.xlsx", ContentFile(rejected), save=False)
    job.summary, job.status, job.progress = result.summary, ImportStatus.DONE, 100
    job.finished_at = timezone.now()
    job.save(update_fields=["summary", "status", "progress", "finished_at", "rejected_file", "error"])
    return job


def import_file_now(
    *, data: bytes, filename: str, workshop: Workshop, dry_run: bool = False, **kwargs: Any
) -> ImportResult:
    """The command's path: the same engine without a stored job."""
    return run_import(data=data, filename=filename, workshop=workshop, dry_run=dry_run, **kwargs)
