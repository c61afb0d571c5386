"""The downloadable XLSX of rejected rows: the file's own values plus line, column and reason.

Staff fix the rows in it and upload just those; its header uses the names the importer
recognises, so it imports as it is. Cells are neutralised against formulas and stripped of
control characters XLSX cannot hold (``safe_export.xlsx_cell``).
"""

import io

from imports.columns import FIELDS
from imports.readers import shown_loc
from imports.records import REJECTED, RowOutcome
from imports.safe_export import xlsx_cell

# Every field the importer loads, in the order of a usual client list; a column is written when
# a rejected row has something in it (name and phone always), so a fixed file loses nothing.
_COLUMNS = ["name", "phone", "inn", "kpp", "client_type", "email", "comment",
            "car", "make", "model", "year", "plate", "vin", "mileage", "visit_date"]
_ALWAYS = ("name", "phone")
_NAME_PARTS = ("last_name", "first_name", "middle_name")


def _header(field: str) -> str:
    """The column's name as the importer recognises it on the way back in."""
    return "ФИО" if field == "name" else FIELDS[field].split(" (")[0]


def rejected_rows_xlsx(outcomes: list[RowOutcome]) -> bytes | None:
    """An XLSX of every rejected row, or ``None`` when nothing was rejected."""
    from openpyxl import Workbook

    rejected = [o for o in outcomes if o.status == REJECTED]
    if not rejected:
        return None
    rows = [outcome.raw for outcome in rejected]
    details = [car for raw in rows for car in raw.get("detail_cars", ())]
    columns = [f for f in _COLUMNS if f in _ALWAYS or any(raw.get(f) for raw in (*rows, *details))]
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Отклонённые")
    sheet.append(["Где в файле", "Причина", "Колонка", "Значение"] + [_header(f) for f in columns])
    for outcome in rejected:
        raw = outcome.raw
        cells = {f: raw.get(f, "") for f in columns}
        if not cells["name"]:
            cells["name"] = " ".join(raw.get(f, "") for f in _NAME_PARTS).strip() or raw.get("full_name", "")
        sheet.append([xlsx_cell(v) for v in
                      (shown_loc(outcome.loc), outcome.reason, outcome.column, outcome.value, *cells.values())])
        # Its car rows below it, as in the file: they import as that client's cars again.
        for car in raw.get("detail_cars", ()):
            sheet.append([xlsx_cell(v) for v in
                          (f"строка {car['line']}", "автомобиль клиента выше", "", "",
                           *(car.get(f, "") for f in columns))])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
