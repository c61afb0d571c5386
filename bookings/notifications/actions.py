"""What the buttons on our messages do, re-checked against the database (callback data is never trusted).

The bot's handlers (``botapp.notify_handlers``) parse the press and call these; each
finds the person by their Telegram id, checks they may act on this booking, and calls
the booking engine.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from bookings.models import Booking, BookingStatus
from bookings.services import booking_rate, booking_transition
from clients.models import Client
from clients.services import client_mark_telegram_reachable
from workshops.errors import DomainError
from workshops.selectors import workshop_ids_for_user
from workshops.staff_telegram import staff_user_for_telegram

MANAGER_ACTOR = "Telegram, чат менеджеров"
CLIENT_ACTOR = "Клиент (Telegram)"


class NotAllowed(DomainError):
    code = "not_allowed"


def _booking(booking_id: int) -> Booking:
    booking = Booking.objects.select_related("workshop", "client", "service").filter(pk=booking_id).first()
    if booking is None:
        raise DomainError("Запись не найдена.", code="booking_not_found")
    return booking


def manager_decides(*, telegram_user_id: int, booking_id: int, to_status: str) -> tuple[Booking, AbstractBaseUser]:
    """A manager pressed «Подтвердить» / «Отменить»: change the status as that staff user.

    Only an active staff user whose Telegram is linked and who works at the booking's
    branch may; anyone else gets ``NotAllowed`` and nothing is written.
    """
    if to_status not in (BookingStatus.CONFIRMED, BookingStatus.CANCELLED):
        raise NotAllowed("Такого действия нет.")
    user = staff_user_for_telegram(telegram_user_id)
    if user is None:
        raise NotAllowed(
            "Ваш Telegram не привязан к сотруднику. Получите код в админке («Привязать Telegram») "
            "и отправьте боту /link КОД."
        )
    booking = _booking(booking_id)
    branch_ids = workshop_ids_for_user(user)
    if branch_ids is not None and booking.workshop_id not in branch_ids:
        raise NotAllowed("Это запись другого филиала: у вас нет к ней доступа.")
    updated = booking_transition(booking=booking, to_status=to_status, by_user=user, actor=MANAGER_ACTOR)
    return updated, user


def _clients_booking(telegram_user_id: int, booking_id: int) -> tuple[Client, Booking]:
    client = Client.objects.filter(telegram_user_id=telegram_user_id).first()
    booking = _booking(booking_id)
    if client is None or booking.client_id != client.pk:
        raise NotAllowed("Это не ваша запись.")
    client_mark_telegram_reachable(client=client)
    return client, booking


def client_confirms_visit(*, telegram_user_id: int, booking_id: int) -> Booking:
    """The client pressed «Приеду» on a reminder: a new booking becomes confirmed; a confirmed one stays."""
    _, booking = _clients_booking(telegram_user_id, booking_id)
    if booking.status == BookingStatus.CONFIRMED:
        return booking
    if booking.status != BookingStatus.NEW:
        raise DomainError(f"Запись уже {booking.get_status_display()}.", code="booking_not_active")
    return booking_transition(booking=booking, to_status=BookingStatus.CONFIRMED, actor=CLIENT_ACTOR)


def client_rates_visit(*, telegram_user_id: int, booking_id: int, rating: int) -> Booking:
    """The client pressed a rating button under the thank-you message."""
    client, booking = _clients_booking(telegram_user_id, booking_id)
    return booking_rate(booking=booking, client=client, rating=rating)
