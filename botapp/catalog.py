"""Branches, services and the operator as the bot shows them, kept in the process for ``CATALOG_TTL`` seconds.

Almost every screen needs them (the calendar and the times need the branch's rules and
the service's duration; the consent names the operator), and they change a few times a year. A booking is always made
with rows read fresh at «Подтвердить», so a change in admin shows in the bot within
``CATALOG_TTL`` seconds and a withdrawn service can never be booked. The instances are
shared: read them, never change them.
"""

import threading
import time
from collections.abc import Callable
from typing import TypeVar

from botapp import selectors
from workshops.models import Company, Service, Workshop

CATALOG_TTL = 30.0
T = TypeVar("T")
_entries: dict[tuple, tuple[float, object]] = {}
_lock = threading.Lock()


def _cached(key: tuple, load: Callable[[], T]) -> T:
    now = time.monotonic()
    with _lock:
        entry = _entries.get(key)
    if entry is not None and now - entry[0] < CATALOG_TTL:
        return entry[1]  # type: ignore[return-value]
    value = load()
    with _lock:
        _entries[key] = (now, value)
    return value


def branches() -> list[Workshop]:
    """Working branches that offer something to book."""
    return _cached(("branches",), selectors.branches_for_booking)


def services(workshop_id: int) -> list[Service]:
    """The services a branch offers for booking."""
    return _cached(("services", workshop_id), lambda: selectors.services_for_booking(workshop_id))


def workshop(workshop_id: int) -> Workshop | None:
    """A working branch by id, or ``None``."""
    return _cached(("workshop", workshop_id), lambda: selectors.active_workshop(workshop_id))


def service(service_id: int) -> Service | None:
    """A bookable service by id, or ``None``."""
    return _cached(("service", service_id), lambda: selectors.active_service(service_id))


def company() -> Company | None:
    """The personal-data operator named in the consent (``None`` until it is set up in admin)."""
    return _cached(("company",), selectors.company)


def clear() -> None:
    """Forget everything (tests; a process that must see an admin change at once)."""
    with _lock:
        _entries.clear()
