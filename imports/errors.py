"""Why a whole file is refused: each a ``DomainError`` with a Russian message saying what to do."""

import logging
import traceback

from workshops.errors import DomainError


def log_unexpected(log: logging.Logger, what: str, exc: BaseException) -> None:
    """An error nobody foresaw, logged with its type and its place in the code but not its message:
    parsers and openpyxl put the cell they choked on (a client's name or phone) into it."""
    log.error("%s: %s\n%s", what, type(exc).__name__, "".join(traceback.format_tb(exc.__traceback__)))


class ImportRefused(DomainError):
    """The file as a whole cannot be imported; nothing is written."""

    code = "import_refused"
    default_message = "Файл не удалось импортировать."


class FileTooLarge(ImportRefused):
    code = "file_too_large"


class TooManyRows(ImportRefused):
    code = "too_many_rows"


class UnsupportedFormat(ImportRefused):
    code = "unsupported_format"


class WrongExtension(ImportRefused):
    code = "wrong_extension"


class PasswordProtected(ImportRefused):
    code = "password_protected"


class CorruptFile(ImportRefused):
    code = "corrupt_file"


class ZipBomb(ImportRefused):
    code = "zip_bomb"


class NoHeader(ImportRefused):
    code = "no_header"
