"""manage.py import_clients FILE --workshop SLUG [--dry-run]: the admin import from the shell."""

from pathlib import Path

from django.core.management.base import CommandError, CommandParser

from imports.errors import ImportRefused
from imports.services import import_file_now
from imports.summary_text import summary_lines
from workshops.commands import RussianCommand
from workshops.models import Workshop


class Command(RussianCommand):
    help = "Загрузить базу клиентов из файла (XLSX, XLS, CSV, XML 1С) в филиал."
    usage = "manage.py import_clients ФАЙЛ --workshop КОД [--dry-run]"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", nargs="?", help="путь к файлу")
        parser.add_argument("--workshop", help="код (slug) филиала")
        parser.add_argument("--dry-run", action="store_true", help="только проверить, ничего не записывать")

    def handle(self, *args: object, **options: object) -> None:
        if not options["file"]:
            self.fail("укажите файл.")
        if not options["workshop"]:
            self.fail(f"укажите филиал: --workshop КОД. Есть: {self.known_workshops()}.")
        path = Path(str(options["file"]))
        if not path.is_file():
            raise CommandError(f"Файл «{path}» не найден.")
        try:
            workshop = Workshop.objects.get(slug=options["workshop"])
        except Workshop.DoesNotExist:
            raise CommandError(f"Филиал «{options['workshop']}» не найден. Есть: {self.known_workshops()}.") from None
        try:
            result = import_file_now(data=path.read_bytes(), filename=path.name, workshop=workshop,
                                     dry_run=bool(options["dry_run"]))
        except ImportRefused as exc:
            raise CommandError(exc.message) from None
        self.stdout.write("\n".join(summary_lines(result.summary)))
