"""Reading report pages and files back into figures, for comparing them with the hand-worked ones."""

import csv
import re
from datetime import date, datetime
from pathlib import Path

from openpyxl import load_workbook

from reports.figures import FIGURE_LABELS

NAME_OF = {label: name for name, label in FIGURE_LABELS.items()}


def page_figures(html: str) -> dict[str, float]:
    """The dashboard cards' figures, from their ``data-figure`` / ``data-value`` attributes."""
    return {name: float(value) for name, value in re.findall(r'data-figure="(\w+)" data-value="([^"]+)"', html)}


def _number(text: str) -> float | None:
    return float(text.replace(",", ".")) if text else None


def csv_sections(path: Path) -> dict[tuple[str, str], dict[str, float | None]]:
    """``(section, key)`` → figures by name, from the report CSV."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle, delimiter=";"))
    header = rows[0]
    result = {}
    for row in rows[1:]:
        values = {NAME_OF.get(label, label): _number(cell) for label, cell in zip(header[2:], row[2:])}
        result[(row[0], row[1])] = values
    return result


def xlsx_sheets(path: Path) -> dict[str, list[tuple]]:
    workbook = load_workbook(path)
    return {ws.title: [tuple(cell.value for cell in row) for row in ws.iter_rows()] for ws in workbook.worksheets}


def xlsx_summary(path: Path) -> dict[str, float]:
    """Figure name → value of the «Сводка» sheet."""
    rows = xlsx_sheets(path)["Сводка"]
    start = next(i for i, row in enumerate(rows) if row and row[0] == "Показатель")
    return {NAME_OF[row[0]]: row[1] for row in rows[start + 1:] if row and row[0] in NAME_OF}


def xlsx_table(path: Path, sheet: str) -> dict[object, dict[str, object]]:
    """First column → figures by name (other columns by their header), of one breakdown sheet."""
    rows = xlsx_sheets(path)[sheet]
    header = rows[0]
    result = {}
    for row in rows[1:]:
        key = row[0].date() if isinstance(row[0], datetime) else row[0]
        result[key] = {NAME_OF.get(label, label): value for label, value in zip(header[1:], row[1:])}
    return result


def day_key(day: date) -> str:
    return f"{day:%d.%m.%Y}"
