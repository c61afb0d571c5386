"""Booking errors: stable codes, Russian messages for clients and staff."""

from datetime import datetime

from workshops.errors import DomainError


class BookingRuleError(DomainError):
    """The requested time or service breaks a rule of the branch (hours, lead time, …)."""

    code = "booking_rule"


class SlotTaken(DomainError):
    """The place was free a moment ago and is not now; ``alternatives`` lists the nearest free times."""

    code = "slot_taken"
    default_message = "Это время уже заняли. Выберите другое."

    def __init__(self, message: str | None = None, *, alternatives: list[datetime] | None = None) -> None:
        super().__init__(message)
        self.alternatives = alternatives or []


class TransitionNotAllowed(DomainError):
    code = "transition_not_allowed"
