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


def test_a_fixed_rejected_file_imports_with_everything_the_row_had(client, branch):
    """Staff download the rejected rows, put a real phone in, upload just those: the car, the kind of
    client and the visit date come in as the original file had them."""
    client.force_login(importer(branch))
    header = "ФИО;Телефон;ИНН;КПП;Вид контрагента;Комментарий;Марка;Модель;Год выпуска;Госномер;VIN;Пробег;Дата последнего визита"
    row = "ООО Ромашка;123;;770701001;Юр. лицо;постоянный;Lada;Vesta;2019;А123ВС77;XTA21700050012345;45000;12.03.2024"
    upload(client, branch, "a.csv", f"{header}\n{row}\n".encode())
    job = ImportJob.objects.get()
    client.post(reverse("admin:imports_importjob_preview", args=[job.pk]), {"action": "confirm"})
    rows = rejected_rows(client, job)
    assert rows[1][:4] == ["запись 2 (строка 2)", rows[1][1], "Телефон", "123"]

    fixed = [row[4:] for row in rows]  # without place and reason, as staff would re-upload it
    fixed[1][fixed[0].index("Телефон")] = "8 912 123-45-67"
    text = "\n".join(";".join("" if v is None else str(v) for v in line) for line in fixed)
    upload(client, branch, "fixed.csv", text.encode())
    again = ImportJob.objects.latest("pk")
    client.post(reverse("admin:imports_importjob_preview", args=[again.pk]), {"action": "confirm"})

    again.refresh_from_db()
    assert again.summary["clients_created"] == 1 and again.summary["counts"]["rejected"] == 0, again.summary
    company = Client.objects.get()
    car = company.vehicles.get()
    assert (company.name, company.kind, company.comment) == ("ООО Ромашка", "company", "постоянный")
    assert (car.make, car.model, car.year, car.plate, car.vin, car.mileage_km) == (
        "Lada", "Vesta", 2019, "А123ВС77", "XTA21700050012345", 45000)
    assert company.first_visit_at.date().isoformat() == "2024-03-12"


def test_a_rejected_client_keeps_the_car_rows_below_it(client, branch):
    """A 1C report puts a client's cars on the rows below the client; the fixed file brings them back."""
    client.force_login(importer(branch))
    data = ("ФИО;Телефон;Госномер;Дата последнего визита\n"
            "Иванов Иван;123;;\n"
            ";;А123ВС77;12.03.2024\n"
            ";;В456ОР77;15.04.2024\n").encode()
    upload(client, branch, "report.csv", data)
    job = ImportJob.objects.get()
    client.post(reverse("admin:imports_importjob_preview", args=[job.pk]), {"action": "confirm"})

    rows = rejected_rows(client, job)
    header = rows[0]
    assert [(row[0], row[header.index("Госномер")], row[header.index("Дата последнего визита")]) for row in rows[1:]] \
        == [("запись 2 (строка 2)", None, None), ("строка 3", "А123ВС77", "12.03.2024"),
            ("строка 4", "В456ОР77", "15.04.2024")]

    fixed = [row[4:] for row in rows]
    fixed[1][header.index("Телефон") - 4] = "8 912 123-45-67"
    text = "\n".join(";".join("" if v is None else str(v) for v in line) for line in fixed)
    upload(client, branch, "fixed.csv", text.encode())
    again = ImportJob.objects.latest("pk")
    client.post(reverse("admin:imports_importjob_preview", args=[again.pk]), {"action": "confirm"})

    ivan = Client.objects.get()
    assert sorted(ivan.vehicles.values_list("plate", flat=True)) == ["А123ВС77", "В456ОР77"]
    assert ivan.bookings.count() == 2
