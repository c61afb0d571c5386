"""The Celery app: "just another interface to our core logic"; tasks live in the apps."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("sto_booking")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
