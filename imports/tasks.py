"""Celery: the import of a big file runs here after staff confirm it. The argument is the job id only."""

from celery import shared_task

from imports.services import import_job_run


@shared_task(acks_late=True, ignore_result=True)
def import_job_task(job_id: int) -> None:
    """Run a confirmed import job (a second delivery finds the job claimed and does nothing)."""
    import_job_run(job_id=job_id)
