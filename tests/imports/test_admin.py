"""«Импорт клиентов» in admin: upload → preview → (correct the mapping) → confirm; who sees it."""

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from clients.models import Client, Vehicle
from imports import limits
from imports.models import ImportJob, ImportStatus
from tests.factories import ClientFactory, MembershipFactory, UserFactory, WorkshopFactory
from tests.imports.conftest import sample_bytes

ADD_URL = "admin:imports_importjob_add"


def importer(workshop, **kwargs):
    user = UserFactory(**kwargs)
    user.user_permissions.add(Permission.objects.get(codename="import_clients"))
    MembershipFactory(user=user, workshop=workshop)
    return user


def upload(client, workshop, name, data=None):
    data = sample_bytes(name) if data is None else data
    return client.post(reverse(ADD_URL), {"workshop": workshop.pk, "file": SimpleUploadedFile(name, data)})


def test_staff_with_the_permission_upload_preview_and_confirm(client, branch):
    client.force_login(importer(branch))
    response = upload(client, branch, "02_avtoservis_otchet_klienty_avto.xlsx")
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response.url == reverse("admin:imports_importjob_preview", args=[job.pk])
    page = client.get(response.url).content.decode()
    assert "Загружено строк: 55" in page and "Отклонено: 1." in page
    assert "строка 46" in page and "Нет действующего телефона" in page
    assert "Подтвердить и загрузить" in page
    assert Client.objects.count() == 0, "the preview writes nothing"

    response = client.post(reverse("admin:imports_importjob_preview", args=[job.pk]), {"action": "confirm"})
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE and job.summary["clients_created"] == 55
    assert Client.objects.count() == 55 and Vehicle.objects.count() == 68
    rejected = client.get(reverse("admin:imports_importjob_rejected", args=[job.pk]))
    assert rejected.status_code == 200 and rejected["Content-Disposition"].startswith("attachment")


def test_the_preview_of_a_big_file_is_a_summary_not_a_page_per_row(client, branch):
    client.force_login(importer(branch))
    rows = "\n".join(f"Клиент {i};8912{i:07d}" for i in range(1, 5001))
    upload(client, branch, "big.csv", ("ФИО;Телефон\n" + rows).encode("utf-8"))
    job = ImportJob.objects.get()
    page = client.get(reverse("admin:imports_importjob_preview", args=[job.pk])).content.decode()
    assert "Загружено строк: 5000" in page
    assert len(page) < 200_000


def test_an_unrecognised_header_can_be_mapped_by_hand(client, branch):
    client.force_login(importer(branch))
    data = "Кто;Как связаться;Машина\nИванов Иван;8 912 123-45-67;Lada Vesta\nПетров Пётр;89221234567;Kia Rio\n"
    upload(client, branch, "list.csv", data.encode("cp1251"))
    job = ImportJob.objects.get()
    preview_url = reverse("admin:imports_importjob_preview", args=[job.pk])
    page = client.get(preview_url).content.decode()
    assert job.status == ImportStatus.UPLOADED
    assert "Не нашли строку с названиями колонок" in page and "Колонки файла и что в них" in page

    client.post(preview_url, {"action": "remap", "header_row": 1, "col_0": "name", "col_1": "phone", "col_2": "car"})
    job.refresh_from_db()
    assert job.status == ImportStatus.PREVIEWED and job.mapping == {"0": "name", "1": "phone", "2": "car"}
    assert job.summary["clients_created"] == 2
    client.post(preview_url, {"action": "confirm"})
    assert set(Client.objects.values_list("name", flat=True)) == {"Иванов Иван", "Петров Пётр"}


UNRECOGNISED = "Кто;Как связаться;Машина\nИванов Иван;8 912 123-45-67;Lada Vesta\nПетров Пётр;89221234567;Kia Rio\n"


def _uploaded_with_an_unrecognised_header(client, branch, data=UNRECOGNISED):
    client.force_login(importer(branch))
    upload(client, branch, "list.csv", data.encode("cp1251"))
    job = ImportJob.objects.get()
    return job, reverse("admin:imports_importjob_preview", args=[job.pk])


def test_columns_mapped_without_a_header_row_number_are_asked_for_it(client, branch):
    """The form shows the first row's cells as column names: a header, or already a client? Staff say which."""
    job, preview_url = _uploaded_with_an_unrecognised_header(client, branch)

    page = client.post(preview_url, {"action": "remap", "header_row": "", "col_0": "name", "col_1": "phone",
                                     "col_2": "car"}).content.decode()
    job.refresh_from_db()
    assert "1, если первая строка — заголовки; 0, если в файле их нет" in page
    assert job.status == ImportStatus.UPLOADED and job.mapping == {}

    client.post(preview_url, {"action": "remap", "header_row": "1", "col_0": "name", "col_1": "phone", "col_2": "car"})
    job.refresh_from_db()
    assert job.status == ImportStatus.PREVIEWED, job.error
    assert job.summary["clients_created"] == 2 and job.summary["header_row"] == 1


def test_a_header_row_typed_for_the_first_sheet_reads_that_sheet(client, branch):
    """Nothing recognised: the form showed the first sheet's columns, so the number is for that sheet,
    not for another one that merely mentions a phone."""
    import io

    from openpyxl import Workbook

    book = Workbook()
    book.active.title = "Клиенты"
    for row in (["Кто", "Как связаться"], ["Иванов Иван", "8 912 123-45-67"], ["Петров Пётр", "89221234567"]):
        book.active.append(row)
    book.create_sheet("Справка").append(["Телефон офиса"])
    data = io.BytesIO()
    book.save(data)
    client.force_login(importer(branch))
    upload(client, branch, "list.xlsx", data.getvalue())
    job = ImportJob.objects.get()

    client.post(reverse("admin:imports_importjob_preview", args=[job.pk]),
                {"action": "remap", "header_row": "1", "col_0": "name", "col_1": "phone"})

    job.refresh_from_db()
    assert job.status == ImportStatus.PREVIEWED and job.summary["sheet"] == "Клиенты"
    assert job.summary["clients_created"] == 2


def test_a_file_without_a_header_is_imported_with_header_row_0(client, branch):
    data = "Иванов Иван;8 912 123-45-67\nПетров Пётр;89221234567\n"
    job, preview_url = _uploaded_with_an_unrecognised_header(client, branch, data)

    client.post(preview_url, {"action": "remap", "header_row": "0", "col_0": "name", "col_1": "phone"})
    client.post(preview_url, {"action": "confirm"})

    assert set(Client.objects.values_list("name", flat=True)) == {"Иванов Иван", "Петров Пётр"}


def test_a_header_row_past_the_end_of_the_file_is_explained_and_can_be_corrected(client, branch):
    job, preview_url = _uploaded_with_an_unrecognised_header(client, branch)

    response = client.post(preview_url, {"action": "remap", "header_row": "5", "col_0": "name", "col_1": "phone"},
                           follow=True)

    page = response.content.decode()
    job.refresh_from_db()
    assert response.status_code == 200
    assert "В файле нет строки 5: всего строк — 3." in page
    assert job.status == ImportStatus.UPLOADED and "Подтвердить и загрузить" not in page
    assert "Колонки файла и что в них" in page, "the form stays, to put the right number in"
    client.post(preview_url, {"action": "remap", "header_row": "1", "col_0": "name", "col_1": "phone"})
    job.refresh_from_db()
    assert job.status == ImportStatus.PREVIEWED and job.summary["clients_created"] == 2


def test_an_absurd_header_row_is_a_form_error_and_changes_nothing(client, branch):
    job, preview_url = _uploaded_with_an_unrecognised_header(client, branch)

    page = client.post(preview_url, {"action": "remap", "header_row": "3000000000", "col_0": "name"}).content.decode()

    job.refresh_from_db()
    assert f"меньше либо равно {limits.HEADER_ROW_MAX}" in page
    assert job.mapping == {} and job.header_row is None


def test_a_recognised_column_can_be_corrected(client, branch):
    client.force_login(importer(branch))
    upload(client, branch, "list.csv", "ФИО;Телефон;Комментарий\nИванов Иван;89121234567;ivan@example.ru\n".encode())
    job = ImportJob.objects.get()
    client.post(reverse("admin:imports_importjob_preview", args=[job.pk]),
                {"action": "remap", "header_row": 1, "col_0": "name", "col_1": "phone", "col_2": "email"})
    client.post(reverse("admin:imports_importjob_preview", args=[job.pk]), {"action": "confirm"})
    assert Client.objects.get().email == "ivan@example.ru"


def test_staff_can_only_pick_their_own_branches(client, branch):
    other = WorkshopFactory(name="СТО Север", slug="north")
    client.force_login(importer(branch))
    page = client.get(reverse(ADD_URL)).content.decode()
    assert "СТО на Шевченко" in page and "СТО Север" not in page
    response = upload(client, other, "05_crm_export_utf8_bom.csv")
    assert response.status_code == 200 and "Выберите корректный вариант" in response.content.decode()
    assert ImportJob.objects.count() == 0 and Client.objects.count() == 0


def test_staff_of_another_branch_see_nothing_of_an_import(client, branch):
    client.force_login(importer(branch))
    upload(client, branch, "05_crm_export_utf8_bom.csv")
    job = ImportJob.objects.get()
    stranger = importer(WorkshopFactory(name="СТО Север", slug="north"))
    client.force_login(stranger)
    assert client.get(reverse("admin:imports_importjob_preview", args=[job.pk])).status_code == 404
    assert client.post(reverse("admin:imports_importjob_preview", args=[job.pk]), {"action": "confirm"}).status_code == 404
    assert client.get(reverse("admin:imports_importjob_progress", args=[job.pk])).status_code == 404
    assert "05_crm_export" not in client.get(reverse("admin:imports_importjob_changelist")).content.decode()
    assert Client.objects.count() == 0


def _client_of_another_branch():
    other = WorkshopFactory(name="Другой филиал", slug="other")
    secret = ClientFactory(name="Секретов Семён", email="semen@secret.ru", phone="+79121234567")
    secret.workshops.add(other)
    return secret


def test_the_preview_hides_what_the_base_holds_for_another_branchs_client(client, branch):
    """A preview links nobody: a list of phones must not be a way to read other branches' clients."""
    secret = _client_of_another_branch()
    client.force_login(importer(branch))
    upload(client, branch, "probe.csv", "ФИО;Телефон;E-mail\nКто-то;89121234567;x@y.ru\n".encode())
    preview_url = reverse("admin:imports_importjob_preview", args=[ImportJob.objects.get().pk])

    before = client.get(preview_url).content.decode()
    client.post(preview_url, {"action": "confirm"})
    after = client.get(preview_url).content.decode()

    assert "Секретов Семён" not in before and "semen@secret.ru" not in before
    assert before.count("скрыто: клиент другого филиала") == 2 and "Кто-то" in before
    assert secret.workshops.filter(pk=branch.pk).exists(), "the import linked the client to this branch"
    assert "Секретов Семён" in after and "semen@secret.ru" in after


def test_the_owner_sees_the_conflicts_in_the_preview(client, branch):
    _client_of_another_branch()
    client.force_login(UserFactory(is_superuser=True, is_staff=True))
    upload(client, branch, "probe.csv", "ФИО;Телефон;E-mail\nКто-то;89121234567;x@y.ru\n".encode())

    page = client.get(reverse("admin:imports_importjob_preview", args=[ImportJob.objects.get().pk])).content.decode()

    assert "Секретов Семён" in page and "semen@secret.ru" in page


def test_staff_without_the_import_permission_do_not_see_the_import(client, branch):
    user = UserFactory()
    MembershipFactory(user=user, workshop=branch)
    client.force_login(user)
    assert client.get(reverse(ADD_URL)).status_code in (403, 404)
    assert client.get(reverse("admin:imports_importjob_changelist")).status_code == 403
    assert "Импорт клиентов" not in client.get(reverse("admin:index")).content.decode()


def test_a_refused_file_shows_its_russian_reason_and_writes_nothing(client, branch):
    client.force_login(importer(branch))
    upload(client, branch, "clients.xlsx", "ФИО;Телефон\nИван;89121234567\n".encode())
    job = ImportJob.objects.get()
    page = client.get(reverse("admin:imports_importjob_preview", args=[job.pk])).content.decode()
    assert "внутри CSV" in page and "Подтвердить и загрузить" not in page
    assert Client.objects.count() == 0


def test_a_big_file_is_queued_and_the_request_returns_at_once(client, branch, monkeypatch, django_capture_on_commit_callbacks):
    """The task message really goes to Redis; here the task body then runs in-process (``apply``).
    ``test_tasks.py`` runs it in a real worker process."""
    from config.celery import app
    from imports.tasks import import_job_task

    monkeypatch.setattr(limits, "ASYNC_ROWS", 10)
    client.force_login(importer(branch))
    upload(client, branch, "04_vygruzka_excel_cp1251_semicolon.csv")
    job = ImportJob.objects.get()
    app.control.purge()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:imports_importjob_preview", args=[job.pk]), {"action": "confirm"})
    job.refresh_from_db()
    assert job.status == ImportStatus.QUEUED and Client.objects.count() == 0
    page = client.get(reverse("admin:imports_importjob_preview", args=[job.pk])).content.decode()
    assert 'http-equiv="refresh"' in page and "в очереди" in page
    assert client.get(reverse("admin:imports_importjob_progress", args=[job.pk])).json()["status"] == "queued"
    assert app.control.purge() == 1, "exactly one task message was queued"

    import_job_task.apply(args=[job.pk])
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE and job.progress == 100 and Client.objects.count() == 75
    import_job_task.apply(args=[job.pk])
    assert Client.objects.count() == 75, "a second delivery finds the job claimed"


def test_an_import_that_fails_unexpectedly_is_marked_failed_without_a_500_or_the_files_text_in_the_log(
        client, branch, caplog):
    """Here the stored file went missing (a media volume not restored); the log names the error, not its text."""
    client.force_login(importer(branch))
    upload(client, branch, "Иванов Иван.csv", "ФИО;Телефон\nИванов Иван;89121234567\n".encode())
    job = ImportJob.objects.get()
    job.file.storage.delete(job.file.name)
    client.raise_request_exception = False

    response = client.post(reverse("admin:imports_importjob_preview", args=[job.pk]), {"action": "confirm"},
                           follow=True)

    job.refresh_from_db()
    assert response.status_code == 200
    assert job.status == ImportStatus.FAILED and "ничего не изменено" in response.content.decode()
    assert f"import job {job.pk} failed: FileNotFoundError" in caplog.text
    assert "Иванов" not in caplog.text and Client.objects.count() == 0
