"""A logging filter for the bot process: the bot token and phone numbers never reach the logs.

httpx logs request URLs (which contain the token) at INFO, so settings keep it at WARNING;
this filter is the second line: whatever a library or an exception message puts in a
record, the token and anything shaped like a Russian phone number are masked.
"""

import logging
import re

_PHONE = re.compile(r"(?<![\d+])(?:\+7|8|7)[\s\-()]*\d{3}[\s\-()]*\d{3}[\s\-]*\d{2}[\s\-]*\d{2}(?!\d)")


class RedactingFilter(logging.Filter):
    """Masks ``secrets`` and phone numbers in a record's message, arguments and exception text."""

    def __init__(self, *secrets: str) -> None:
        super().__init__()
        self.secrets = [secret for secret in secrets if secret]

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "[token]")
        return _PHONE.sub("[phone]", text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg, record.args = self.redact(message), None
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True


def install_redaction(*secrets: str) -> RedactingFilter:
    """Add the filter to every handler of the root logger (records of all loggers pass through them)."""
    redacting = RedactingFilter(*secrets)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redacting)
    return redacting
