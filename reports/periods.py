"""Report periods: ``[start, end)`` in local dates, applied in each branch's own time zone."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from workshops.dates import RANGE_TEXT, is_plausible
from workshops.errors import DomainError

# A dashboard or export over more than three years is a mistake, not a report.
MAX_PERIOD_DAYS = 3 * 366


class ReportPeriodError(DomainError):
    code = "bad_period"
    default_message = "Период отчёта указан неверно."


PRESETS: dict[str, str] = {
    "today": "Сегодня",
    "week": "Эта неделя",
    "month": "Этот месяц",
    "last_month": "Прошлый месяц",
    "custom": "Свой период",
}


@dataclass(frozen=True)
class Period:
    """Local dates ``[start, end)``: ``end`` is the first day *not* in the period."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.start >= self.end:
            raise ReportPeriodError("Начало периода должно быть раньше его конца.")
        if self.days > MAX_PERIOD_DAYS:
            raise ReportPeriodError(f"Период длиннее {MAX_PERIOD_DAYS} дней: выберите период короче.")

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    def dates(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range(self.days)]

    def previous(self) -> "Period":
        """The period of the same length that ends where this one starts."""
        return Period(self.start - timedelta(days=self.days), self.start)

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """The period as an aware ``[from, to)`` in ``tz`` (local midnights)."""
        return datetime.combine(self.start, time(0), tzinfo=tz), datetime.combine(self.end, time(0), tzinfo=tz)

    @property
    def label(self) -> str:
        if self.days == 1:
            return f"{self.start:%d.%m.%Y}"
        return f"{self.start:%d.%m.%Y} — {self.last_day:%d.%m.%Y}"


def period_preset(name: str, *, today: date) -> Period:
    """A named period around ``today``: whole days, whole ISO weeks, whole calendar months."""
    if name == "today":
        return Period(today, today + timedelta(days=1))
    if name == "week":
        monday = today - timedelta(days=today.weekday())
        return Period(monday, monday + timedelta(days=7))
    first = today.replace(day=1)
    next_first = (first + timedelta(days=32)).replace(day=1)
    if name == "month":
        return Period(first, next_first)
    if name == "last_month":
        return Period((first - timedelta(days=1)).replace(day=1), first)
    raise ReportPeriodError(f"Неизвестный период «{name}».")


def parse_date(value: str, *, name: str) -> date:
    """``YYYY-MM-DD`` → date, or ``ReportPeriodError`` naming the parameter."""
    try:
        day = date.fromisoformat(value.strip())
    except (AttributeError, ValueError):
        raise ReportPeriodError(f"{name}: «{value}» — не дата в формате ГГГГ-ММ-ДД.") from None
    if not is_plausible(day):
        raise ReportPeriodError(f"{name}: «{value}» — отчёт строится за даты {RANGE_TEXT}.")
    return day
