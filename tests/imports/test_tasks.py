"""The Celery path: a confirmed big import runs in a real worker process (Redis broker, the test database)."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from clients.models import Client
from imports import limits
from imports.models import ImportJob, ImportStatus
from imports.services import import_job_confirm, import_job_create, import_job_preview
from tests.factories import BayFactory, WorkshopFactory
from tests.imports.conftest import sample_bytes

ROOT = Path(__file__).resolve().parents[2]


def previewed_job(slug: str) -> ImportJob:
    """A 75-client sample uploaded and previewed for a new branch with a bay, ready to confirm or run."""
    workshop = WorkshopFactory(slug=slug)
    BayFactory(workshop=workshop)
    name = "04_vygruzka_excel_cp1251_semicolon.csv"
    job = import_job_create(workshop=workshop, user=None, upload=SimpleUploadedFile(name, sample_bytes(name)))
    import_job_preview(job=job)
    job.refresh_from_db()
    return job


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_confirmed_big_import_is_run_by_a_celery_worker(settings, tmp_path, monkeypatch):
    from config.celery import app

    monkeypatch.setattr(limits, "ASYNC_ROWS", 10)
    settings.MEDIA_ROOT = tmp_path
    job = previewed_job("worker")
    app.control.purge()
    assert import_job_confirm(job=job) is True  # autocommit: the task is sent at once

    db = connection.settings_dict
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.test_settings", "MEDIA_ROOT": str(tmp_path),
           "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"}
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "--concurrency=1",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=WARNING"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            job.refresh_from_db()
            if job.status in (ImportStatus.DONE, ImportStatus.FAILED):
                break
            time.sleep(0.3)
    finally:
        worker.terminate()
        worker.wait(timeout=20)
    assert job.status == ImportStatus.DONE, job.error
    assert job.progress == 100 and job.summary["clients_created"] == 75
    assert Client.objects.count() == 75
    assert ImportJob.objects.get(pk=job.pk).rejected_file


@pytest.mark.django_db
def test_a_second_confirm_of_a_big_import_already_done_changes_nothing(settings, tmp_path, monkeypatch):
    """A double click: the second request loaded the job before the first one's run finished."""
    from imports.services import import_job_run
    from workshops.errors import DomainError

    monkeypatch.setattr(limits, "ASYNC_ROWS", 10)
    settings.MEDIA_ROOT = tmp_path
    job = previewed_job("twice")
    second_click = ImportJob.objects.get(pk=job.pk)
    assert import_job_confirm(job=job) is True  # queued (sent after commit, which this test never reaches)
    import_job_run(job_id=job.pk)  # what the worker does with it

    with pytest.raises(DomainError, match="уже запущен"):
        import_job_confirm(job=second_click)

    job.refresh_from_db()
    assert job.status == ImportStatus.DONE and job.summary["clients_created"] == 75


@pytest.mark.django_db(transaction=True)
def test_the_page_shows_the_progress_of_an_import_whose_transaction_is_still_open(client, settings, tmp_path):
    """The engine reports 50 % inside its transaction, then waits here for the branch row (held
    by another connection, as a slow write would keep it busy): the page must already say 50 %."""
    import threading

    import psycopg
    from django.contrib.auth import get_user_model
    from django.db import connections
    from django.urls import reverse

    from imports.services import import_job_run

    settings.MEDIA_ROOT = tmp_path
    job = previewed_job("progress")
    client.force_login(get_user_model().objects.create_superuser("owner", "owner@example.ru", "pass"))
    progress_url = reverse("admin:imports_importjob_progress", args=[job.pk])

    db = connection.settings_dict
    with psycopg.connect(host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"], dbname=db["NAME"]) as holder:
        holder.execute("SELECT 1 FROM workshops_workshop WHERE id = %s FOR UPDATE", [job.workshop_id])
        worker = threading.Thread(target=lambda: (import_job_run(job_id=job.pk), connections.close_all()))
        worker.start()
        deadline, seen = time.monotonic() + 30, {}
        while time.monotonic() < deadline:
            seen = client.get(progress_url).json()
            if seen["progress"] >= 50:
                break
            time.sleep(0.05)
        assert seen == {"status": "running", "progress": 50, "error": ""}
        assert ImportJob.objects.get(pk=job.pk).progress == 30  # the row's own column: not committed yet
        page = client.get(reverse("admin:imports_importjob_preview", args=[job.pk])).content.decode()
        assert '<span id="import-progress">50%</span>' in page
        holder.rollback()  # the branch row is free: the import goes on
    worker.join(timeout=60)
    assert client.get(progress_url).json() == {"status": "done", "progress": 100, "error": ""}
    assert Client.objects.count() == 75
