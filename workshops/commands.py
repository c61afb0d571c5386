"""A base for the installer's ``manage.py`` commands: argparse's English errors in Russian."""

import re
from typing import NoReturn

from django.core.management.base import BaseCommand, CommandError, CommandParser

# The errors a person typing the command meets; any other reads «неверные аргументы».
_ARGPARSE_ERRORS = (
    (re.compile(r"unrecognized arguments: (.*)"), "лишние аргументы: {}."),
    (re.compile(r"argument (\S+?)(?:/\S+)?: expected one argument"), "после {} нужно значение."),
)


class RussianCommand(BaseCommand):
    """Set ``usage``; check required arguments in ``handle`` and refuse with ``fail``, so a missing
    one is named in Russian too."""

    usage = ""

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: object) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.error = lambda message: self._argparse_error(parser, message)  # type: ignore[method-assign]
        return parser

    @staticmethod
    def known_workshops() -> str:
        """The branch codes an installer may pass to ``--workshop``, for a message."""
        from workshops.models import Workshop

        return ", ".join(Workshop.objects.order_by("slug").values_list("slug", flat=True)) or "нет ни одного"

    def fail(self, message: str) -> NoReturn:
        raise CommandError(f"Ошибка: {message}\nИспользование: {self.usage}")

    def _argparse_error(self, parser: CommandParser, message: str) -> NoReturn:
        """Printed with exit status 2 in a shell (as argparse does), raised for ``call_command``."""
        text = "неверные аргументы."
        for pattern, russian in _ARGPARSE_ERRORS:
            if found := pattern.match(message):
                text = russian.format(found.group(1))
        if parser.called_from_command_line:
            parser.exit(2, f"Ошибка: {text}\nИспользование: {self.usage}\n")
        self.fail(text)
