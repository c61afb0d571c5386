"""Report files: typed cells, sized columns, Russian headers, neutralised formulas."""

import io
from datetime import date, datetime

from django.core.management import call_command
from openpyxl import load_workbook

from bookings.models import Booking
from clients.models import Client
from imports.safe_export import neutralise

SHEETS = ["Сводка", "По дням", "По филиалам", "По услугам", "По каналам", "Записи"]


def write(fmt: str, tmp_path, *extra: str):
    path = tmp_path / f"march.{fmt}"
    call_command("report", "--from", "2025-03-01", "--to", "2025-04-01", "--format", fmt, "-o", str(path), *extra,
                 stdout=io.StringIO())
    return path


def test_the_xlsx_has_six_sheets_with_typed_cells_and_sized_columns(march_world, tmp_path):
    workbook = load_workbook(write("xlsx", tmp_path))

    assert workbook.sheetnames == SHEETS
    by_day = workbook["По дням"]
    assert by_day["A1"].value == "Дата" and by_day["B1"].value == "Новые записи"
    assert isinstance(by_day["A2"].value, datetime) and by_day["A2"].value.date() == date(2025, 3, 1)
    assert by_day["A2"].number_format == "DD.MM.YYYY"
    assert by_day["B2"].data_type == "n" and by_day["B2"].value == 2
    assert by_day.column_dimensions["A"].width >= 12
    bookings = workbook["Записи"]
    assert bookings["C2"].number_format == "DD.MM.YYYY HH:MM"
    assert isinstance(bookings["D2"].value, datetime)
    assert isinstance(bookings["A2"].value, int)
    assert bookings.column_dimensions["J"].width == 30
    share = next(row for row in workbook["Сводка"].iter_rows() if row[0].value == "Доля вернувшихся")[1]
    assert share.value == 0.6 and share.number_format == "0.0%"


def test_text_that_looks_like_a_formula_is_written_as_text(march_world, tmp_path):
    Client.objects.filter(name="Ольга Смирнова").update(name='=HYPERLINK("http://evil","x")')
    march_world.east.name = "+СТО Восток"
    march_world.east.save()

    workbook = load_workbook(write("xlsx", tmp_path))
    cells = [cell for ws in workbook.worksheets for row in ws.iter_rows() for cell in row]
    assert not [cell for cell in cells if cell.data_type == "f"]
    assert '\'=HYPERLINK("http://evil","x")' in [cell.value for cell in cells]
    assert "'+СТО Восток" in [cell.value for cell in cells]
    text = write("csv", tmp_path).read_text(encoding="utf-8-sig")
    assert ";'+СТО Восток;" in text


def test_neutralise_leaves_numbers_and_ordinary_text_alone():
    assert neutralise(-5) == -5
    assert neutralise("Замена масла") == "Замена масла"
    assert neutralise("@SUM(A1)") == "'@SUM(A1)"
    assert neutralise("-1+2") == "'-1+2"


def test_the_csv_is_semicolon_separated_utf8_with_a_bom_and_russian_headers(march_world, tmp_path):
    raw = write("csv", tmp_path).read_bytes()

    assert raw.startswith("\ufeff".encode())
    header = raw.decode("utf-8-sig").splitlines()[0]
    assert header.startswith("Раздел;Срез;Новые записи;Подтверждены;Выполненные визиты;Отменены;Неявки")
    total = raw.decode("utf-8-sig").splitlines()[1].split(";")
    assert total[:3] == ["Итого", "01.03.2025 — 31.03.2025", "8"]
    assert "0,6000" in total


def test_the_report_is_written_without_touching_any_booking(march_world, tmp_path):
    before = list(Booking.objects.order_by("pk").values())
    write("xlsx", tmp_path)
    assert list(Booking.objects.order_by("pk").values()) == before


def test_a_client_name_with_a_control_character_does_not_break_the_xlsx(march_world, tmp_path):
    # Such names came in through imports before names were cleaned; openpyxl refuses to write them.
    Client.objects.filter(name="Ольга Смирнова").update(name="Ольга\x07 Смирнова\x0b=1+1")
    march_world.east.name = "\x01=СТО Восток"
    march_world.east.save()

    workbook = load_workbook(write("xlsx", tmp_path))

    values = [cell.value for ws in workbook.worksheets for row in ws.iter_rows() for cell in row]
    assert "Ольга Смирнова =1+1" in values
    assert "'=СТО Восток" in values
