"""Report files: XLSX (six sheets) and CSV, written from the same figures as the dashboard.

XLSX is written in openpyxl's write-only mode and the bookings list is read through a
server-side cursor, so a year of a busy company streams through in bounded memory.
Numbers are numbers and dates are dates in the file; text that a spreadsheet would run
as a formula (``=``, ``+``, ``-``, ``@``, tab, CR at the start) is neutralised, and XLSX text is
stripped of the control characters openpyxl refuses (``imports.safe_export.xlsx_text``): a client
name imported with one would otherwise fail the whole report.
"""

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import IO, Any

from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from bookings.models import BookingChannel, BookingStatus
from imports.safe_export import neutralise, xlsx_cell
from reports.figures import BRANCH_COLUMNS, DAY_COLUMNS, FIGURE_LABELS, SHARES, Figures, Report
from reports.periods import Period
from reports.selectors import BOOKING_LIST_FIELDS, local_naive, report_bookings, report_figures
from workshops.models import Workshop

FORMATS = ("xlsx", "csv")
CONTENT_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}
COUNT_COLUMNS = ("new", "confirmed", "completed", "cancelled", "no_show")
SERVICE_COLUMNS = COUNT_COLUMNS + ("telegram_new",)
OCCUPANCY_LABELS = ("Занято постов, мин", "Открыто постов, мин", "Загрузка постов")
BOOKING_HEADERS = (
    "№ записи", "Филиал", "Создана", "Начало визита", "Окончание", "Статус", "Канал", "Услуга", "Клиент №", "Клиент",
)
DATE_FORMAT = "DD.MM.YYYY"
DATETIME_FORMAT = "DD.MM.YYYY HH:MM"
SHARE_FORMAT = "0.0%"
_BOLD = Font(bold=True)


@dataclass
class ReportData:
    """Everything a report file holds: this period, the one before, and the bookings list."""

    report: Report
    previous: Report

    @classmethod
    def build(cls, *, workshops: Sequence[Workshop], period: Period) -> "ReportData":
        workshops = list(workshops)
        return cls(
            report=report_figures(workshops=workshops, period=period),
            previous=report_figures(workshops=workshops, period=period.previous(), detail=False),
        )

    def bookings(self) -> Iterable[tuple]:
        return report_bookings(workshops=self.report.workshops, period=self.report.period)


def report_filename(period: Period, fmt: str, workshops: Sequence[Workshop] = ()) -> str:
    scope = f"-{workshops[0].slug}" if len(workshops) == 1 else ""
    return f"report{scope}-{period.start:%Y-%m-%d}-{period.last_day:%Y-%m-%d}.{fmt}"


def write_report(data: ReportData, fmt: str, out: IO[bytes]) -> None:
    """Write the report as ``fmt`` (``xlsx`` or ``csv``) to the binary file ``out``."""
    if fmt == "xlsx":
        write_xlsx(data, out)
    elif fmt == "csv":
        write_csv(data, out)
    else:
        raise ValueError(f"unknown report format {fmt!r}")


# --- XLSX -------------------------------------------------------------------------------


class _Sheet:
    """A write-only sheet with sized columns, a bold header row and typed cells."""

    def __init__(self, workbook: Workbook, title: str, headers: Sequence[str], widths: Sequence[int] = ()) -> None:
        self.ws: WriteOnlyWorksheet = workbook.create_sheet(title)
        for index, header in enumerate(headers):
            width = widths[index] if index < len(widths) else max(12, min(len(header) + 2, 30))
            self.ws.column_dimensions[get_column_letter(index + 1)].width = width
        self.ws.freeze_panes = "A2" if headers else None
        if headers:
            self.ws.append([self.cell(header, bold=True) for header in headers])

    def cell(self, value: Any, *, number_format: str | None = None, bold: bool = False) -> WriteOnlyCell:
        cell = WriteOnlyCell(self.ws, value=xlsx_cell(value))
        if number_format:
            cell.number_format = number_format
        if bold:
            cell.font = _BOLD
        return cell

    def figure(self, name: str, value: int | float | None) -> Any:
        if value is None:
            return None
        return self.cell(value, number_format=SHARE_FORMAT) if name in SHARES else value

    def append(self, row: Iterable[Any]) -> None:
        """A row of cells and plain values; text among the plain values is made safe like ``cell``'s."""
        self.ws.append([xlsx_cell(value) if isinstance(value, str) else value for value in row])


def _figures_row(sheet: _Sheet, figures: Figures, columns: Sequence[str]) -> list[Any]:
    values = figures.as_dict()
    return [sheet.figure(name, values[name]) for name in columns]


def write_xlsx(data: ReportData, out: IO[bytes]) -> None:
    report, previous = data.report, data.previous
    workbook = Workbook(write_only=True)
    _summary_sheet(workbook, report, previous)

    by_day = _Sheet(workbook, "По дням", ["Дата", *(FIGURE_LABELS[n] for n in DAY_COLUMNS)])
    for day, figures in report.by_day.items():
        by_day.append([by_day.cell(day, number_format=DATE_FORMAT), *_figures_row(by_day, figures, DAY_COLUMNS)])

    by_branch = _Sheet(workbook, "По филиалам", ["Филиал", *(FIGURE_LABELS[n] for n in BRANCH_COLUMNS),
                                                 *OCCUPANCY_LABELS], widths=[24])
    for workshop in report.workshops:
        occupancy = report.occupancy[workshop.pk]
        by_branch.append([
            workshop.name, *_figures_row(by_branch, report.by_branch[workshop.pk], BRANCH_COLUMNS),
            occupancy.booked_minutes, occupancy.open_minutes,
            by_branch.cell(occupancy.share, number_format=SHARE_FORMAT),
        ])

    by_service = _Sheet(workbook, "По услугам", ["Услуга", *(FIGURE_LABELS[n] for n in SERVICE_COLUMNS)], widths=[30])
    for name, figures in _services(report):
        by_service.append([name, *_figures_row(by_service, figures, SERVICE_COLUMNS)])

    by_channel = _Sheet(workbook, "По каналам", ["Канал", *(FIGURE_LABELS[n] for n in COUNT_COLUMNS)], widths=[26])
    for label, figures in _channels(report):
        by_channel.append([label, *_figures_row(by_channel, figures, COUNT_COLUMNS)])

    _bookings_sheet(workbook, report, data.bookings())
    workbook.save(out)


def _summary_sheet(workbook: Workbook, report: Report, previous: Report) -> None:
    sheet = _Sheet(workbook, "Сводка", [], widths=[34, 16, 20, 14])
    sheet.append([sheet.cell("Отчёт по записям", bold=True)])
    sheet.append(["Филиалы", ", ".join(w.name for w in report.workshops) or "—"])
    sheet.append(["Период с", sheet.cell(report.period.start, number_format=DATE_FORMAT),
                  "по", sheet.cell(report.period.last_day, number_format=DATE_FORMAT)])
    sheet.append(["Предыдущий период с", sheet.cell(previous.period.start, number_format=DATE_FORMAT),
                  "по", sheet.cell(previous.period.last_day, number_format=DATE_FORMAT)])
    sheet.append(["Сформирован", sheet.cell(local_naive(timezone.now(), timezone.get_current_timezone()),
                                            number_format=DATETIME_FORMAT)])
    sheet.append([])
    sheet.append([sheet.cell(h, bold=True) for h in ("Показатель", "Значение", "Предыдущий период", "Изменение")])
    now, before = report.total.as_dict(), previous.total.as_dict()
    for name, label in FIGURE_LABELS.items():
        change = (now[name] or 0) - (before[name] or 0)
        sheet.append([label, sheet.figure(name, now[name]), sheet.figure(name, before[name]),
                      sheet.figure(name, change)])
    sheet.append([OCCUPANCY_LABELS[2], sheet.cell(report.total_occupancy.share, number_format=SHARE_FORMAT)])


def _services(report: Report) -> list[tuple[str, Figures]]:
    return sorted(((report.service_names.get(pk, "—"), f) for pk, f in report.by_service.items()),
                  key=lambda item: item[0])


def _channels(report: Report) -> list[tuple[str, Figures]]:
    return [(BookingChannel(c).label, report.by_channel[c]) for c in BookingChannel.values if c in report.by_channel]


def _bookings_sheet(workbook: Workbook, report: Report, rows: Iterable[tuple]) -> None:
    sheet = _Sheet(workbook, "Записи", BOOKING_HEADERS, widths=[10, 22, 17, 17, 17, 14, 24, 28, 10, 30])
    tz_of = {w.pk: w.tz for w in report.workshops}
    statuses, channels = dict(BookingStatus.choices), dict(BookingChannel.choices)
    index = {name: i for i, name in enumerate(BOOKING_LIST_FIELDS)}
    ws = sheet.ws
    for row in rows:
        tz = tz_of[row[index["workshop_id"]]]
        moments = []
        for name in ("created_at", "starts_at", "ends_at"):
            cell = WriteOnlyCell(ws, value=local_naive(row[index[name]], tz))
            cell.number_format = DATETIME_FORMAT
            moments.append(cell)
        ws.append([
            row[index["id"]], xlsx_cell(row[index["workshop__name"]]), *moments,
            statuses.get(row[index["status"]], row[index["status"]]),
            channels.get(row[index["channel"]], row[index["channel"]]),
            xlsx_cell(row[index["service__name"]]), row[index["client_id"]], xlsx_cell(row[index["client__name"]]),
        ])


# --- CSV --------------------------------------------------------------------------------

CSV_HEADERS = ("Раздел", "Срез", *FIGURE_LABELS.values(), "Загрузка постов")


def _csv_number(value: int | float | None) -> str:
    """Counts as integers, shares as fractions with a decimal comma (what Russian Excel reads)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}".replace(".", ",")
    return str(value)


def _csv_row(section: str, key: str, figures: Figures, occupancy: float | None = None) -> list[str]:
    values = figures.as_dict()
    if figures.visited_clients is None:
        values["returning_share"] = None
    if figures.booked_clients is None:
        values["telegram_client_share"] = None
    return [section, neutralise(key), *(_csv_number(values[name]) for name in FIGURE_LABELS), _csv_number(occupancy)]


def write_csv(data: ReportData, out: IO[bytes]) -> None:
    """One table, ``;``-separated, UTF-8 with BOM: the totals, the previous period, then each breakdown."""
    report = data.report
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="")
    writer = csv.writer(text, delimiter=";")
    writer.writerow(CSV_HEADERS)
    writer.writerow(_csv_row("Итого", report.period.label, report.total, report.total_occupancy.share))
    writer.writerow(_csv_row("Предыдущий период", data.previous.period.label, data.previous.total))
    for day, figures in report.by_day.items():
        writer.writerow(_csv_row("День", f"{day:%d.%m.%Y}", figures))
    for workshop in report.workshops:
        writer.writerow(_csv_row("Филиал", workshop.name, report.by_branch[workshop.pk],
                                 report.occupancy[workshop.pk].share))
    for name, figures in _services(report):
        writer.writerow(_csv_row("Услуга", name, figures))
    for label, figures in _channels(report):
        writer.writerow(_csv_row("Канал", label, figures))
    text.flush()
    text.detach()
