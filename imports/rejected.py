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

_COLUMNS = ["name", "phone", "inn", "email", "comment", "car", "plate", "vin", "visit_date"]


def rejected_rows_xlsx(outcomes: list[RowOutcome]) -> bytes | None:
    """An XLSX of every rejected row, or ``None`` when nothing was rejected."""
    from openpyxl import Workbook

    rejected = [o for o in outcomes if o.status == REJECTED]
    if not rejected:
        return None
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Отклонённые")
    headers = ["Где в файле", "Причина", "Колонка", "Значение"] + [FIELDS[f].split(" (")[0] for f in _COLUMNS]
    headers[4] = "ФИО"
    sheet.append(headers)
    for outcome in rejected:
        raw = outcome.raw
        values = [shown_loc(outcome.loc), outcome.reason, outcome.column, outcome.value] + [raw.get(f, "") for f in _COLUMNS]
        if not values[4]:
            values[4] = " ".join(raw.get(f, "") for f in ("last_name", "first_name", "middle_name")).strip()
        sheet.append([xlsx_cell(v) for v in values])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
