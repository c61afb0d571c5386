"""Spreadsheets the project writes: no formulas run, and no stray control character stops the writing."""

import io

import tablib
from openpyxl import load_workbook

from imports.formats import SafeXLSX
from imports.safe_export import xlsx_cell


def test_an_admin_xlsx_export_drops_characters_xlsx_cannot_hold():
    dataset = tablib.Dataset(["Иван\x07ов\x0bИван", "\x02=1+1", 5], headers=["ФИО", "Комментарий", "Визитов"])
    workbook = load_workbook(io.BytesIO(SafeXLSX().export_data(dataset)))
    assert [cell.value for cell in workbook.active[2]] == ["Иванов Иван", "'=1+1", 5]


def test_an_xlsx_cell_keeps_line_breaks_tabs_and_phones():
    assert xlsx_cell("ул. Ленина, 1\nкв. 2\tподъезд 3") == "ул. Ленина, 1\nкв. 2\tподъезд 3"
    assert xlsx_cell("+79121234567") == "+79121234567"
    assert xlsx_cell(None) is None and xlsx_cell(12.5) == 12.5
