"""The XLSX of rejected rows staff download: every rejected row, readable, whatever the file held."""

import io

from django.urls import reverse
from openpyxl import load_workbook

from clients.models import Client
from imports.models import ImportJob, ImportStatus
from tests.imports.test_admin import importer, upload


def rejected_rows(client, job):
    response = client.get(reverse("admin:imports_importjob_rejected", args=[job.pk]))
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    return [[cell.value for cell in row] for row in sheet.iter_rows()]


def test_control_characters_in_rejected_rows_do_not_stop_the_import_and_are_left_out_of_the_file(client, branch):
    client.force_login(importer(branch))
    data = "ФИО;Телефон\nПетров Пётр;89121234567\nИванов\x0bИван;123\nСидор\x07ов=(1);456\n".encode()
    upload(client, branch, "a.csv", data)
    job = ImportJob.objects.get()

    client.post(reverse("admin:imports_importjob_preview", args=[job.pk]), {"action": "confirm"})

    job.refresh_from_db()
    assert job.status == ImportStatus.DONE and Client.objects.count() == 1
    rows = rejected_rows(client, job)
    assert [(row[0], row[4]) for row in rows[1:]] == [("запись 3 (строка 3)", "Иванов Иван"),
                                                      ("запись 4 (строка 4)", "Сидоров=(1)")]
    assert not [value for row in rows for value in row if isinstance(value, str) and "\x07" in value]
