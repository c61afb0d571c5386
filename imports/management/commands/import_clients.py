"""manage.py import_clients FILE --workshop SLUG [--dry-run]: the admin import from the shell."""

import re
from pathlib import Path
from typing import NoReturn

from django.core.management.base import BaseCommand, CommandError, CommandParser

from imports.errors import ImportRefused
from imports.services import import_file_now
from imports.summary_text import summary_lines
from workshops.models import Workshop

USAGE = "manage.py import_clients ФАЙЛ --workshop КОД [--dry-run]"

# argparse's errors are English: the ones a person typing the command meets, in Russian.
_ARGPARSE_ERRORS = (
    (re.compile(r"unrecognized arguments: (.*)"), "лишние аргументы: {}."),
    (re.compile(r"argument (\S+?)(?:/\S+)?: expected one argument"), "после {} нужно значение."),
)


class Command(BaseCommand):
    help = "Загрузить базу клиентов из файла (XLSX, XLS, CSV, XML 1С) в филиал."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: object) -> CommandParser:
        # The file and --workshop are checked in handle, so that a missing one is named in Russian.
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.error = lambda message: self._argparse_error(parser, message)  # type: ignore[method-assign]
        return parser

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", nargs="?", help="путь к файлу")
        parser.add_argument("--workshop", help="код (slug) филиала")
        parser.add_argument("--dry-run", action="store_true", help="только проверить, ничего не записывать")

    def _fail(self, message: str) -> NoReturn:
        raise CommandError(f"{message}\nИспользование: {USAGE}")

    def _argparse_error(self, parser: CommandParser, message: str) -> NoReturn:
        """argparse's error in Russian: printed with exit status 2 in a shell (as argparse does), raised for call_command."""
        text = "Ошибка: неверные аргументы."
        for pattern, russian in _ARGPARSE_ERRORS:
            if found := pattern.match(message):
                text = "Ошибка: " + russian.format(found.group(1))
        if parser.called_from_command_line:
            parser.exit(2, f"{text}\nИспользование: {USAGE}\n")
        self._fail(text)

    def handle(self, *args: object, **options: object) -> None:
        if not options["file"]:
            self._fail("Ошибка: укажите файл.")
        if not options["workshop"]:
            self._fail(f"Ошибка: укажите филиал: --workshop КОД. Есть: {self._known_workshops()}.")
        path = Path(str(options["file"]))
        if not path.is_file():
            raise CommandError(f"Файл «{path}» не найден.")
        try:
            workshop = Workshop.objects.get(slug=options["workshop"])
        except Workshop.DoesNotExist:
            raise CommandError(f"Филиал «{options['workshop']}» не найден. Есть: {self._known_workshops()}.") from None
        try:
            result = import_file_now(data=path.read_bytes(), filename=path.name, workshop=workshop,
                                     dry_run=bool(options["dry_run"]))
        except ImportRefused as exc:
            raise CommandError(exc.message) from None
        self.stdout.write("\n".join(summary_lines(result.summary)))

    @staticmethod
    def _known_workshops() -> str:
        return ", ".join(Workshop.objects.order_by("slug").values_list("slug", flat=True)) or "нет ни одного"
