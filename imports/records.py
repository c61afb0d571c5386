"""What readers produce and what validation makes of it.

A reader turns a file into ``SourceRecord`` objects in file order: one per row of a
spreadsheet or CSV, one per object of an XML exchange file. Each is either a data record
(canonical fields, see ``imports.columns.FIELDS``) or a non-data record skipped with a
reason. Validation turns every ``SourceRecord`` into a ``RowOutcome``.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import Any

# Row outcomes shown to staff.
NEW, MERGED, UPDATED, SKIPPED, REJECTED = "new", "merged", "updated", "skipped", "rejected"
STATUS_LABELS = {
    NEW: "новый клиент",
    MERGED: "объединён с существующим",
    UPDATED: "дополнен существующий",
    SKIPPED: "пропущен (не данные)",
    REJECTED: "отклонён",
}
IMPORTED_STATUSES = (NEW, MERGED, UPDATED)


@dataclass(slots=True)
class CarInput:
    """One car as the file gives it (raw cells), with the line it came from."""

    line: int
    car: Any = ""
    make: Any = ""
    model: Any = ""
    year: Any = ""
    plate: Any = ""
    vin: Any = ""
    mileage: Any = ""
    visit_date: Any = ""

    def is_empty(self) -> bool:
        return not any(_filled(v) for v in (self.car, self.make, self.model, self.plate, self.vin))


def _filled(value: Any) -> bool:
    return value is not None and value != "" and not (isinstance(value, str) and not value.strip())


@dataclass(slots=True)
class SourceRecord:
    """One row or object of the file, before validation.

    ``fields`` maps canonical field names to raw values (``phone`` may be a list for XML);
    ``formula_columns`` names the columns that held a spreadsheet formula.
    """

    loc: str
    line: int
    fields: dict[str, Any] = field(default_factory=dict)
    cars: list[CarInput] = field(default_factory=list)
    skip_reason: str = ""
    warnings: list[tuple[str, str]] = field(default_factory=list)
    formula_columns: list[str] = field(default_factory=list)
    source_id: str = ""
    group: str = ""
    column_labels: dict[str, str] = field(default_factory=dict)

    @property
    def is_data(self) -> bool:
        return not self.skip_reason


@dataclass(slots=True)
class Car:
    """A validated car: at least one of ``vin`` / ``plate``."""

    vin: str = ""
    plate: str = ""
    make: str = ""
    model: str = ""
    year: int | None = None
    mileage_km: int | None = None
    visit_date: date | None = None
    line: int = 0


_NO_RAW: Mapping[str, str] = MappingProxyType({})


def _no_raw() -> Mapping[str, str]:
    return _NO_RAW


@dataclass(slots=True)
class RowOutcome:
    """What happens to one record: status, reason (for rejected and skipped) and the clean values.

    ``phones``, ``warnings``, ``cars`` and ``visits`` are a shared empty tuple until something is
    added (through ``warn``, ``add_car``, ``add_visit``), and ``raw`` (the cells as text, for the
    rejected-rows file) is filled for rejected rows only: a 100,000-row file would otherwise
    carry half a million empty containers.
    """

    loc: str
    line: int
    status: str
    reason_code: str = ""
    reason: str = ""
    column: str = ""
    value: str = ""
    warnings: Sequence[tuple[str, str]] = ()
    name: str = ""
    kind: str = "person"
    kind_explicit: bool = False
    phones: Sequence[tuple[str, str]] = ()
    inn: str = ""
    email: str = ""
    comment: str = ""
    cars: Sequence[Car] = ()
    visits: Sequence[tuple[date, str, str]] = ()
    source_id: str = ""
    client_id: int | None = None
    raw: Mapping[str, str] = field(default_factory=_no_raw)

    @property
    def imported(self) -> bool:
        return self.status in IMPORTED_STATUSES

    def warn(self, code: str, message: str) -> None:
        if self.warnings:
            self.warnings.append((code, message))  # type: ignore[attr-defined]
        else:
            self.warnings = [(code, message)]

    def add_car(self, car: Car) -> None:
        self.cars = _added(self.cars, car)

    def add_visit(self, visit: tuple[date, str, str]) -> None:
        self.visits = _added(self.visits, visit)


def _added(items: Sequence[Any], item: Any) -> Sequence[Any]:
    """``items`` with ``item`` at the end: a 1-tuple for the first (most rows have one car and one
    visit), a list from the second on."""
    if not items:
        return (item,)
    if type(items) is tuple:
        return [*items, item]
    items.append(item)  # type: ignore[attr-defined]
    return items
