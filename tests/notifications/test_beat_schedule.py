"""Beat's periodic jobs are registered in code and land in django-celery-beat's tables."""

from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler

from config.celery import app


def test_beat_runs_the_sweep_and_the_reminder_scan_every_minute_and_nudges_hourly(transactional_db):
    DatabaseScheduler(app=app)  # what `celery beat` does on start
    tasks = {t.task: t.interval for t in PeriodicTask.objects.filter(task__startswith="bookings.tasks.")}
    assert {name: (i.every, i.period) for name, i in tasks.items()} == {
        "bookings.tasks.sweep_outbox": (60, "seconds"),
        "bookings.tasks.scan_reminders": (60, "seconds"),
        "bookings.tasks.scan_return_nudges": (3600, "seconds"),
    }
    app.loader.import_default_modules()
    assert set(tasks) <= set(app.tasks)
