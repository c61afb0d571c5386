"""Reads the bot needs. Each is one query (``anything_to_withdraw`` at most two); nothing here writes."""

from django.db.models import Exists, OuterRef
from django.utils import timezone

from bookings.models import ACTIVE_STATUSES, Booking
from clients.models import Client, ClientPhone, Consent, Vehicle
from workshops.models import Company, Service, Workshop

UPCOMING_LIMIT = 10


def company() -> Company | None:
    """The personal-data operator named in the consent text (set in admin)."""
    return Company.objects.order_by("pk").first()


def client_for_telegram(telegram_user_id: int) -> Client | None:
    return Client.objects.filter(telegram_user_id=telegram_user_id).first()


def anything_to_withdraw(telegram_user_id: int) -> bool:
    """Whether this Telegram user has a standing consent (any purpose or version) or a linked client."""
    return (
        Consent.objects.filter(telegram_user_id=telegram_user_id, withdrawn_at__isnull=True).exists()
        or Client.objects.filter(telegram_user_id=telegram_user_id).exists()
    )


def client_by_phone(number: str) -> Client | None:
    """The client owning an E.164 ``number``, if any."""
    phone = ClientPhone.objects.select_related("client").filter(number=number).first()
    return phone.client if phone else None


def branches_for_booking() -> list[Workshop]:
    """Working branches that offer at least one service clients can book."""
    offered = Service.objects.filter(is_active=True, workshops=OuterRef("pk"))
    return list(Workshop.objects.filter(Exists(offered), is_active=True).order_by("name", "pk"))


def services_for_booking(workshop_id: int) -> list[Service]:
    return list(Service.objects.filter(workshops=workshop_id, is_active=True).order_by("position", "name", "pk"))


def vehicles_of(client_id: int) -> list[Vehicle]:
    return list(Vehicle.objects.filter(client_id=client_id).order_by("-created_at", "-pk")[:8])


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
