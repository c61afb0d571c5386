"""Celery entry points for reports; the work is in ``reports.services``."""

from celery import shared_task

from reports.services import weekly_reports_send_due


@shared_task(name="reports.send_weekly_reports", ignore_result=True)
def send_weekly_reports() -> int:
    """Run hourly by beat: puts the weekly reports that are due (Monday 08:00 local or later) in the outbox."""
    return weekly_reports_send_due()
