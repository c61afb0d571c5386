"""Everything the bot says, rendered from ``templates/botapp/*.txt`` (Russian), plus formatting helpers.

Messages go out as plain text (no parse mode), so whatever a user typed — ``<b>``, ``*``,
``_`` — is shown as typed and can never break a message. The template engine therefore
runs without HTML auto-escaping.
"""

import re
import unicodedata
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache

from django.conf import settings
from django.template import Context, Engine

MONTHS = ["января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября", "октября",
          "ноября", "декабря"]
MONTHS_NOMINATIVE = ["Январь", "Февраль", "Март", "Апрель", "Май", "Июнь", "Июль", "Август", "Сентябрь",
                     "Октябрь", "Ноябрь", "Декабрь"]
WEEKDAYS = ["пн", "вт", "ср", "чт", "пт", "сб", "вс"]
TELEGRAM_TEXT_LIMIT = 4096


@lru_cache(maxsize=1)
def _engine() -> Engine:
    return Engine(dirs=[str(settings.BASE_DIR / "templates")], autoescape=False)


def render(name: str, **context: object) -> str:
    """The text of ``templates/botapp/<name>.txt``: trimmed, at most one empty line in a row, ≤ 4096 chars."""
    text = _engine().get_template(f"botapp/{name}.txt").render(Context(context, autoescape=False))
    text = re.sub(r"[ \t]+\n", "\n", text.strip())
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text[:TELEGRAM_TEXT_LIMIT]


def duration(minutes: int) -> str:
    """90 → «1 ч 30 мин»."""
    hours, rest = divmod(int(minutes), 60)
    parts = ([f"{hours} ч"] if hours else []) + ([f"{rest} мин"] if rest or not hours else [])
    return " ".join(parts)


def price_from(value: Decimal | str | None) -> str:
    """1500 (or «1500.00») → «от 1 500 ₽»; empty when the price is not set."""
    if value in (None, ""):
        return ""
    rubles = f"{int(Decimal(value)):,}".replace(",", "\u00a0")
    return f"от {rubles}\u00a0₽"


def day_label(day: date) -> str:
    """«12 мая (вт)»."""
    return f"{day.day} {MONTHS[day.month - 1]} ({WEEKDAYS[day.weekday()]})"


def moment_label(moment: datetime) -> str:
    """An aware datetime already in the branch's zone → «12 мая (вт) в 10:30»."""
    return f"{day_label(moment.date())} в {moment:%H:%M}"


# Characters that would let typed text rearrange or hide what is around it when shown back
# (bidi overrides and isolates, zero-width marks) or that cannot be stored (NUL).
_INVISIBLE = {"Cc", "Cf", "Co", "Cs"}


def clean_typed(text: str) -> str:
    """Typed text without control, format (bidi/RTL, zero-width) and private-use characters; spaces collapsed.

    Emoji stay; an emoji's joiner (U+200D) goes, so a composite emoji may fall apart
    into its parts — a fair price for text that cannot reorder the bot's own words.
    """
    kept = "".join(" " if ch in "\n\t\r" else ch for ch in text if ch in "\n\t\r" or unicodedata.category(ch) not in _INVISIBLE)
    return " ".join(kept.split())
