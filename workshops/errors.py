"""The project's one family of domain errors.

Every service raises a ``DomainError`` with a stable ``code`` and a Russian message for
people; entry points (admin, bot, API, commands) show ``message`` as it is.
"""

from typing import Any


class DomainError(Exception):
    code: str = "error"
    default_message: str = "Операция не выполнена."

    def __init__(self, message: str | None = None, *, code: str | None = None, **details: Any) -> None:
        self.code = code or self.code
        self.message = message or self.default_message
        self.details = details
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message
