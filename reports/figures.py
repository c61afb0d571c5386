"""The report's figures (DESIGN §4) as plain data, shared by the dashboard, exports and e-mail."""

from dataclasses import dataclass, field, fields
from datetime import date

from reports.periods import Period
from workshops.models import Workshop

ADDITIVE = ("new", "confirmed", "completed", "cancelled", "no_show", "telegram_new")


def share(part: int | None, whole: int | None) -> float:
    """``part / whole``; 0 for an empty period (the dashboard shows zeros, not errors)."""
    return part / whole if part and whole else 0.0


@dataclass
class Figures:
    """One row of the report: the whole period, or one day, branch, service or channel of it.

    The first six are counts of bookings and add up across rows. The client counts are
    distinct clients, so they do not add up; ``None`` where a breakdown does not have them.
    """

    new: int = 0  # created in the period, channel ≠ import
    confirmed: int = 0  # of those, ever reached «confirmed»
    completed: int = 0  # status completed, visit starts in the period
    cancelled: int = 0  # moved to «cancelled» in the period
    no_show: int = 0  # moved to «no_show» in the period
    telegram_new: int = 0  # new bookings via Telegram
    visited_clients: int | None = None  # distinct clients with a completed visit in the period
    returning_clients: int | None = None  # of those, with an earlier completed visit
    booked_clients: int | None = None  # distinct clients with a booking created (not imported) or starting in the period
    telegram_clients: int | None = None  # of those, linked to Telegram

    def add(self, other: "Figures") -> None:
        for name in ADDITIVE:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def returning_share(self) -> float:
        return share(self.returning_clients, self.visited_clients)

    @property
    def telegram_share(self) -> float:
        return share(self.telegram_new, self.new)

    @property
    def telegram_client_share(self) -> float:
        return share(self.telegram_clients, self.booked_clients)

    def as_dict(self) -> dict[str, int | float | None]:
        data: dict[str, int | float | None] = {f.name: getattr(self, f.name) for f in fields(self)}
        data.update(
            returning_share=self.returning_share,
            telegram_share=self.telegram_share,
            telegram_client_share=self.telegram_client_share,
        )
        return data


@dataclass
class Occupancy:
    """Bay occupancy of one branch: booked minutes ÷ open minutes (hours × active bays)."""

    booked_minutes: int = 0
    open_minutes: int = 0

    @property
    def share(self) -> float:
        return share(self.booked_minutes, self.open_minutes)


@dataclass
class Report:
    """The figures of one period over a set of branches, with their breakdowns.

    Every date of the period and every branch in scope has a row (zeros when empty);
    services and channels have rows only where something happened.
    """

    period: Period
    workshops: list[Workshop]
    total: Figures
    by_day: dict[date, Figures] = field(default_factory=dict)
    by_branch: dict[int, Figures] = field(default_factory=dict)
    by_service: dict[int, Figures] = field(default_factory=dict)
    service_names: dict[int, str] = field(default_factory=dict)
    by_channel: dict[str, Figures] = field(default_factory=dict)
    new_by_day_channel: dict[tuple[date, str], int] = field(default_factory=dict)
    funnel: dict[str, int] = field(default_factory=dict)  # new bookings of the period by current status
    occupancy: dict[int, Occupancy] = field(default_factory=dict)

    @property
    def total_occupancy(self) -> Occupancy:
        """All branches' booked minutes ÷ all their open minutes."""
        return Occupancy(
            booked_minutes=sum(o.booked_minutes for o in self.occupancy.values()),
            open_minutes=sum(o.open_minutes for o in self.occupancy.values()),
        )


# Column headers of every table (dashboard, XLSX, CSV, e-mail), in display order.
FIGURE_LABELS: dict[str, str] = {
    "new": "Новые записи",
    "confirmed": "Подтверждены",
    "completed": "Выполненные визиты",
    "cancelled": "Отменены",
    "no_show": "Неявки",
    "telegram_new": "Записи через Telegram",
    "telegram_share": "Доля записей через Telegram",
    "visited_clients": "Клиенты с визитами",
    "returning_clients": "Вернувшиеся клиенты",
    "returning_share": "Доля вернувшихся",
    "booked_clients": "Клиенты с записями",
    "telegram_clients": "Клиенты с Telegram",
    "telegram_client_share": "Доля клиентов с Telegram",
}
SHARES = frozenset({"returning_share", "telegram_share", "telegram_client_share"})
BOOKING_COUNTS = ("new", "confirmed", "completed", "cancelled", "no_show", "telegram_new", "telegram_share")
DAY_COLUMNS = BOOKING_COUNTS + ("visited_clients", "returning_clients", "returning_share")
BRANCH_COLUMNS = tuple(FIGURE_LABELS)


def format_count(value: int | None) -> str:
    """``12345`` → ``"12 345"`` (a no-break space between thousands, as Russian texts write it)."""
    return f"{value or 0:,}".replace(",", "\u00a0")


def format_share(value: float) -> str:
    """``0.4286`` → ``"42,9 %"``."""
    return f"{value * 100:.1f}".replace(".", ",") + "\u00a0%"


def format_figure(name: str, value: int | float | None) -> str:
    return format_share(value or 0.0) if name in SHARES else format_count(value)
