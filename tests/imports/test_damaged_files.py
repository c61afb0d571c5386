"""Damaged and unusual files: read when they can be, else refused with a Russian message; never a 500."""

import io
import logging
import zipfile

import pytest
from django.urls import reverse

from clients.models import Client, ClientPhone
from imports.engine import run_import
from imports.errors import CorruptFile, ImportRefused
from imports.models import ImportJob
from imports.readers import _guarded, read_records
from tests.imports.conftest import SAMPLE_FILES, sample_bytes
from tests.imports.test_admin import importer, upload
from tests.imports.test_bad_input import assert_nothing_changed, known, refused  # noqa: F401 (fixture)


def damaged_xlsx() -> bytes:
    """The 1C sample with one byte flipped in the middle of its compressed sheet."""
    data = bytearray(sample_bytes("01_1c_bp_kontragenty_vyvesti_spisok.xlsx"))
    info = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo("xl/worksheets/sheet1.xml")
    data[info.header_offset + 30 + len(info.filename) + len(info.extra) + info.compress_size // 2] ^= 0xFF
    return bytes(data)


def damaged_xls() -> bytes:
    """The hand-kept list with one byte flipped inside its sheet's records."""
    data = bytearray(sample_bytes("03_klienty_ruchnoy_uchet.xls"))
    data[1191] ^= 0xFF
    return bytes(data)


def test_an_excel_for_mac_csv_with_cr_line_breaks_is_imported(branch):
    data = "ФИО;Телефон\rИванов Иван;89121234567\r\"Петров\rПётр\";89221234567\r".encode("cp1251")
    run_import(data=data, filename="mac.csv", workshop=branch)
    assert sorted(Client.objects.values_list("name", flat=True)) == ["Иванов Иван", "Петров Пётр"]
    assert sorted(ClientPhone.objects.values_list("number", flat=True)) == ["+79121234567", "+79221234567"]


@pytest.mark.parametrize("filename,make,says", [
    ("cut.csv", lambda: b"\xff\xfe" + "ФИО;Телефон\n".encode("utf-16-le") + b"A", "UTF-16"),
    ("damaged.xlsx", damaged_xlsx, "XLSX повреждён"),
    ("damaged.xls", damaged_xls, "Excel 97–2003 повреждена"),
    ("odd.xml", lambda: b"<?xml version='1.0' encoding='x-unknown'?><Message/>", "кодировке «x-unknown»"),
])
def test_a_damaged_file_is_refused_in_russian_and_writes_nothing(branch, known, filename, make, says):  # noqa: F811
    info = refused(make(), filename, branch)
    assert info.type is CorruptFile and says in info.value.message
    assert_nothing_changed(known)


def test_staff_uploading_a_damaged_xlsx_see_why_it_is_refused(client, branch):
    client.force_login(importer(branch))
    client.raise_request_exception = False
    response = upload(client, branch, "damaged.xlsx", damaged_xlsx())
    job = ImportJob.objects.get()
    assert response.status_code == 302
    page = client.get(reverse("admin:imports_importjob_preview", args=[job.pk])).content.decode()
    assert "XLSX повреждён" in page and "Подтвердить и загрузить" not in page
    assert Client.objects.count() == 0


def corrupted_variants(data: bytes, count: int = 12):
    """``count`` copies of ``data`` each with one byte flipped, and as many cut short, at evenly spread places."""
    for k in range(1, count + 1):
        position = len(data) * k // (count + 1)
        flipped = bytearray(data)
        flipped[position] ^= 0xFF
        yield f"byte {position} flipped", bytes(flipped)
        yield f"cut at {position}", data[:position]


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_a_sample_damaged_anywhere_is_read_or_refused_never_a_crash(name):
    for damage, data in corrupted_variants(sample_bytes(name)):
        try:
            records, _info = read_records(data, name)
            list(records)
        except ImportRefused as exc:
            assert exc.message, (name, damage)
        except Exception as exc:  # noqa: BLE001 — the point of the test
            pytest.fail(f"{name}, {damage}: {type(exc).__name__} instead of a refusal")


def test_an_error_no_reader_foresaw_is_a_refusal_logged_without_the_clients_data(caplog):
    cells = ["Петров Пётр", "89221234567"]

    def rows():
        yield cells, "row 1", 1
        raise KeyError(" ".join(cells))  # a library quoting the damaged row in its message

    with caplog.at_level(logging.ERROR, logger="imports.readers"), pytest.raises(CorruptFile) as info:
        list(_guarded(rows(), "xlsx"))
    assert "Excel (XLSX) повреждён" in info.value.message
    assert "KeyError" in caplog.text and "Петров" not in caplog.text


def test_staff_see_where_a_rejected_row_is_in_russian(client, branch):
    client.force_login(importer(branch))
    upload(client, branch, "a.csv", "ФИО;Телефон\nИванов;123\n".encode())
    page = client.get(reverse("admin:imports_importjob_preview", args=[ImportJob.objects.get().pk])).content.decode()
    assert "запись 2 (строка 2)" in page and "record 2" not in page


def test_a_runaway_quote_in_a_csv_is_explained_in_russian(branch, known):  # noqa: F811
    data = ("ФИО;Телефон\nИванов;\"" + "x" * 140_000 + "\"\n").encode()
    info = refused(data, "clients.csv", branch)
    assert info.value.message.startswith("CSV повреждён около строки 2: в ячейке больше 131 072 символов")
    assert "field" not in info.value.message
    assert_nothing_changed(known)


def test_broken_xml_is_explained_in_russian_with_line_and_column(branch, known):  # noqa: F811
    info = refused("<?xml version='1.0'?>\n<КоммерческаяИнформация><Документ></Контрагент>".encode(), "orders.xml", branch)
    assert info.value.message == ("XML повреждён: закрывающий тег не совпадает с открывающим (строка 2, позиция 37). "
                                  "Выгрузите файл из 1С заново.")
    assert_nothing_changed(known)
