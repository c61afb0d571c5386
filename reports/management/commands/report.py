"""``manage.py report --from YYYY-MM-DD --to YYYY-MM-DD [--workshop SLUG] --format xlsx|csv -o FILE``."""

from pathlib import Path

from django.core.management.base import CommandParser

from reports.exports import FORMATS, ReportData, write_report
from reports.periods import Period, ReportPeriodError, parse_date
from workshops.commands import RussianCommand
from workshops.models import Workshop


class Command(RussianCommand):
    help = (
        "Отчёт владельца за период [--from, --to) — --to не включается — по всем филиалам или по одному: "
        "тот же файл, что выгружается из панели владельца."
    )
    usage = "manage.py report --from ГГГГ-ММ-ДД --to ГГГГ-ММ-ДД [--workshop КОД] --format xlsx|csv -o ФАЙЛ"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="date_from", help="первый день периода, ГГГГ-ММ-ДД")
        parser.add_argument("--to", dest="date_to", help="день после последнего дня периода, ГГГГ-ММ-ДД")
        parser.add_argument("--workshop", help="код филиала (slug); без него — все филиалы")
        parser.add_argument("--format", dest="fmt", help="xlsx или csv")
        parser.add_argument("-o", "--output", help="куда записать файл")

    def handle(self, *args, date_from: str | None, date_to: str | None, workshop: str | None, fmt: str | None,
               output: str | None, **options) -> None:
        if not date_from or not date_to:
            self.fail("укажите период: --from и --to.")
        if fmt not in FORMATS:
            self.fail(f"--format должен быть xlsx или csv, а не «{fmt or ''}».")
        if not output:
            self.fail("укажите файл: -o ФАЙЛ.")
        try:
            period = Period(parse_date(date_from, name="--from"), parse_date(date_to, name="--to"))
        except ReportPeriodError as error:
            self.fail(error.message)
        workshops = list(Workshop.objects.order_by("name", "id"))
        if workshop is not None:
            workshops = [w for w in workshops if w.slug == workshop]
            if not workshops:
                self.fail(f"филиал с кодом «{workshop}» не найден. Есть: {self.known_workshops()}.")
        path = Path(output)
        if path.is_dir():
            self.fail(f"«{path}» — папка: укажите имя файла, например {path / 'otchet.xlsx'}.")
        if not path.parent.is_dir():
            self.fail(f"папки «{path.parent}» нет.")
        data = ReportData.build(workshops=workshops, period=period)
        with path.open("wb") as out:
            write_report(data, fmt, out)
        self.stdout.write(f"Отчёт за {period.label} записан в {path}.")
