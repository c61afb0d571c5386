"""Why a whole file is refused: each a ``DomainError`` with a Russian message saying what to do."""

from workshops.errors import DomainError


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
