"""What the buttons on our messages do, re-checked against the database (callback data is never trusted).

The bot's handlers (``botapp.notify_handlers``) parse the press and call these; each
finds the person by their Telegram id, checks they may act on this booking, and calls
the booking engine.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from django.template.loader import render_to_string

from bookings.models import ACTIVE_STATUSES, Booking, BookingStatus
from bookings.services import booking_rate, booking_transition
from clients.models import Client, Consent
from clients.services import client_mark_telegram_reachable, marketing_consent_give
from workshops.errors import DomainError
from workshops.models import Company
from workshops.selectors import workshop_ids_for_user
from workshops.staff_telegram import staff_user_for_telegram

MANAGER_ACTOR = "Telegram, чат менеджеров"
MARKETING_CONSENT_VERSION = "1"
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

    Only an active staff user whose Telegram is linked, who works at the booking's branch
    and who may change bookings (the permission admin's «Подтвердить» / «Отменить» need) may;
    anyone else gets ``NotAllowed`` and nothing is written. Everyone in the managers' chat
    sees the buttons, so the buttons must not grant more than admin does.
    """
    if to_status not in (BookingStatus.CONFIRMED, BookingStatus.CANCELLED):
        raise NotAllowed("Такого действия нет.")
    user = staff_user_for_telegram(telegram_user_id)
    if user is None:
        raise NotAllowed(
            "Ваш Telegram не привязан к сотруднику. Получите код в админке («Привязать Telegram») "
            "и отправьте боту /link КОД."
        )
    if not user.has_perm("bookings.change_booking"):
        raise NotAllowed("У вас нет права подтверждать и отменять записи. Обратитесь к руководителю филиала.")
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
    """The client pressed «Приеду» on a reminder: a new booking becomes confirmed; a confirmed one stays.

    Refused for a booking no longer active, and once the visit time has come (an old
    reminder pressed late), as the reminder's «Отменить» is.
    """
    _, booking = _clients_booking(telegram_user_id, booking_id)
    if booking.status not in ACTIVE_STATUSES:
        raise DomainError(
            f"С этой записью уже ничего не сделать: её статус — «{booking.get_status_display()}».",
            code="booking_not_active",
        )
    if booking.has_started:
        raise DomainError(
            "Время визита уже наступило — подтвердить его кнопкой нельзя. Если что-то изменилось, позвоните нам.",
            code="booking_started",
        )
    if booking.status == BookingStatus.CONFIRMED:
        return booking
    return booking_transition(booking=booking, to_status=BookingStatus.CONFIRMED, actor=CLIENT_ACTOR)


def client_rates_visit(*, telegram_user_id: int, booking_id: int, rating: int) -> Booking:
    """The client pressed a rating button under the thank-you message."""
    client, booking = _clients_booking(telegram_user_id, booking_id)
    return booking_rate(booking=booking, client=client, rating=rating)


def marketing_consent_text() -> str:
    """The marketing consent as shown in the bot (and stored as evidence when accepted)."""
    company = Company.objects.first()
    return render_to_string(
        "notifications/marketing_consent.txt",
        {"version": MARKETING_CONSENT_VERSION, "operator": company.name if company else "нашего автосервиса"},
    ).strip()


def client_accepts_marketing(*, telegram_user_id: int, text_version: str, message_id: int | None) -> Consent:
    """The person pressed «Согласен» under the marketing consent text of ``text_version``.

    Refuses a press under an older text (``consent_outdated``): the person must see the current one.
    """
    if text_version != MARKETING_CONSENT_VERSION:
        raise DomainError("Текст согласия обновился — посмотрите новый: /ads", code="consent_outdated")
    client = Client.objects.filter(telegram_user_id=telegram_user_id).first()
    return marketing_consent_give(
        telegram_user_id=telegram_user_id, client=client, text=marketing_consent_text(),
        text_version=text_version, message_id=message_id,
    )
