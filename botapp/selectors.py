"""Reads the bot needs. Each is one query (``anything_to_withdraw`` at most two); nothing here writes."""

from collections.abc import Sequence
from typing import TypeVar

from django.db.models import Exists, Model, OuterRef
from django.utils import timezone

from bookings.models import ACTIVE_STATUSES, Booking
from clients.models import Client, ClientPhone, Consent, Vehicle
from workshops.models import Company, Service, Workshop

UPCOMING_LIMIT = 10
M = TypeVar("M", bound=Model)


# The reads a booking conversation makes on its way (the client by phone, the cars, and at
# «Подтвердить» the client, branch, service and car read fresh) are plain SQL through
# ``objects.raw``: the same model instances, converters applied, for a third of the CPU the
# ORM spends building each query (≈ 0.2 against 0.6 ms here; BENCHMARKS.md, "Telegram bot").
def _rows(model: type[M], where: str, params: Sequence, tail: str = "") -> list[M]:
    return list(model.objects.raw(f"SELECT * FROM {model._meta.db_table} WHERE {where} {tail}", params))


def _row(model: type[M], where: str, params: Sequence) -> M | None:
    return next(iter(_rows(model, where, params, "LIMIT 1")), None)


def company() -> Company | None:
    """The personal-data operator named in the consent text (set in admin)."""
    return Company.objects.order_by("pk").first()


def client_for_telegram(telegram_user_id: int) -> Client | None:
    return _row(Client, "telegram_user_id = %s", [telegram_user_id])


def linked_client(client_id: int | None, telegram_user_id: int) -> Client | None:
    """Client ``client_id`` while this Telegram user is still linked to it."""
    return _row(Client, "id = %s AND telegram_user_id = %s", [client_id, telegram_user_id])


def anything_to_withdraw(telegram_user_id: int) -> bool:
    """Whether this Telegram user has a standing consent (any purpose or version) or a linked client."""
    return (
        Consent.objects.filter(telegram_user_id=telegram_user_id, withdrawn_at__isnull=True).exists()
        or Client.objects.filter(telegram_user_id=telegram_user_id).exists()
    )


def client_by_phone(number: str) -> Client | None:
    """The client owning an E.164 ``number``, if any."""
    return _row(Client, f"id = (SELECT client_id FROM {ClientPhone._meta.db_table} WHERE number = %s)", [number])


def active_workshop(workshop_id: int | None) -> Workshop | None:
    return _row(Workshop, "id = %s AND is_active", [workshop_id])


def active_service(service_id: int | None) -> Service | None:
    return _row(Service, "id = %s AND is_active", [service_id])


def branches_for_booking() -> list[Workshop]:
    """Working branches that offer at least one service clients can book."""
    offered = Service.objects.filter(is_active=True, workshops=OuterRef("pk"))
    return list(Workshop.objects.filter(Exists(offered), is_active=True).order_by("name", "pk"))


def services_for_booking(workshop_id: int) -> list[Service]:
    return list(Service.objects.filter(workshops=workshop_id, is_active=True).order_by("position", "name", "pk"))


def vehicles_of(client_id: int) -> list[Vehicle]:
    """The client's cars, newest first, at most 8."""
    return _rows(Vehicle, "client_id = %s", [client_id], "ORDER BY created_at DESC, id DESC LIMIT 8")


def vehicle_of(client: Client, vehicle_id: int) -> Vehicle | None:
    """The car if it is the client's."""
    return _row(Vehicle, "id = %s AND client_id = %s", [vehicle_id, client.pk])


def upcoming_bookings(telegram_user_id: int) -> list[Booking]:
    """The Telegram user's active bookings that have not started yet, soonest first."""
    return list(
        Booking.objects.select_related("workshop", "service", "vehicle")
        .filter(client__telegram_user_id=telegram_user_id, status__in=ACTIVE_STATUSES, starts_at__gt=timezone.now())
        .order_by("starts_at")[:UPCOMING_LIMIT]
    )


def booking_of(telegram_user_id: int, booking_id: int) -> Booking | None:
    """The booking if it belongs to the client linked to this Telegram user; ``None`` otherwise (whoever's it is)."""
    return (
        Booking.objects.select_related("workshop", "service", "vehicle")
        .filter(pk=booking_id, client__telegram_user_id=telegram_user_id)
        .first()
    )
