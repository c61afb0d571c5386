"""Celery beat's scheduler for the stack: django-celery-beat's, plus a heartbeat for Docker."""

from django_celery_beat.schedulers import DatabaseScheduler

from config.heartbeat import heartbeat


class HeartbeatScheduler(DatabaseScheduler):
    """The schedule lives in the database (editable in admin), as with ``DatabaseScheduler``.

    Each tick of beat's loop touches the heartbeat file. Ticks come at most
    ``DEFAULT_MAX_INTERVAL`` (5 s) apart, so a file a minute old means the loop is stuck or dead.
    """

    def tick(self, *args, **kwargs) -> float:  # noqa: ANN002, ANN003 (celery.beat.Scheduler.tick)
        interval = super().tick(*args, **kwargs)
        heartbeat()
        return interval
