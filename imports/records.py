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


def _no_raw() -> Mapping[str, Any]:
    return _NO_RAW


@dataclass(slots=True)
class RowOutcome:
    """What happens to one record: status, reason (for rejected and skipped) and the clean values.

    ``warnings`` is a shared empty tuple until one is added (``warn``), and ``raw`` (the cells as
    text, for the rejected-rows file) is filled for rejected rows only: a 100,000-row file would
    otherwise carry half a million empty containers. For the same reason ``phones``, ``cars`` and
    ``visits`` are stored packed (see ``pack``) and read through properties as sequences.
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
    inn: str = ""
    email: str = ""
    comment: str = ""
    source_id: str = ""
    client_id: int | None = None
    raw: Mapping[str, Any] = field(default_factory=_no_raw)
    _phones: Any = field(default=None, repr=False)
    _cars: Any = field(default=None, repr=False)
    _visits: Any = field(default=None, repr=False)

    @property
    def imported(self) -> bool:
        return self.status in IMPORTED_STATUSES

    @property
    def phones(self) -> Sequence[tuple[str, str]]:
        """Valid phones: (E.164, extension)."""
        return unpack(self._phones)

    @phones.setter
    def phones(self, phones: Sequence[tuple[str, str]]) -> None:
        self._phones = pack(phones)

    @property
    def cars(self) -> Sequence[Car]:
        return unpack(self._cars)

    @property
    def visits(self) -> Sequence[tuple[date, str, str]]:
        """Visits: (day, VIN, plate of the car, when the file named one)."""
        return unpack(self._visits)

    def warn(self, code: str, message: str) -> None:
        if self.warnings:
            self.warnings.append((code, message))  # type: ignore[attr-defined]
        else:
            self.warnings = [(code, message)]

    def add_car(self, car: Car) -> None:
        self._cars = pack_append(self._cars, car)

    def add_visit(self, visit: tuple[date, str, str]) -> None:
        self._visits = pack_append(self._visits, visit)


# Packed items: ``None`` for none, the item itself for one, a list from two on (never a list as
# an item). Most rows have one phone, one car and one visit: without a 1-tuple around each,
# 100,000 rows take 14 MB less. The plan keeps a new client's phones the same way.

def pack(items: Sequence[Any]) -> Any:
    if not items:
        return None
    return items[0] if len(items) == 1 else list(items)


def unpack(packed: Any) -> Sequence[Any]:
    if packed is None:
        return ()
    return packed if type(packed) is list else (packed,)


def pack_append(packed: Any, item: Any) -> Any:
    """``packed`` with ``item`` at the end."""
    if packed is None:
        return item
    if type(packed) is list:
        packed.append(item)
        return packed
    return [packed, item]
