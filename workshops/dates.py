"""Dates people type into URLs, forms and commands.

A date outside these years is a typo, and arithmetic next to ``date.min``/``date.max``
(the day after 9999-12-31) raises ``OverflowError``: such dates are treated as no date.
"""

from datetime import date

EARLIEST = date(1900, 1, 1)
LATEST = date(2100, 12, 31)
RANGE_TEXT = "с 1900 по 2100 год"


def is_plausible(day: date) -> bool:
    return EARLIEST <= day <= LATEST


def parse_plausible(value: str | None) -> date | None:
    """``YYYY-MM-DD`` within ``EARLIEST``…``LATEST``, else ``None``."""
    try:
        day = date.fromisoformat(value.strip())  # type: ignore[union-attr]
    except (AttributeError, ValueError):
        return None
    return day if is_plausible(day) else None
