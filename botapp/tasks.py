"""Celery tasks of the bot: a thin interface to its housekeeping."""

from celery import shared_task

from botapp.sessions import sessions_forget_idle


@shared_task(ignore_result=True)
def forget_idle_sessions() -> int:
    """Forget what abandoned conversations collected (beat, hourly)."""
    return sessions_forget_idle()
