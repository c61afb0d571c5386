"""/my and the booking buttons: cancel and reschedule, from the list or from any message (a reminder)."""

import zoneinfo
from datetime import timedelta

import pytest
from django.utils import timezone

from bookings.models import Booking, BookingChannel, BookingEvent, BookingStatus
from bookings.services import booking_create
from botapp import keyboards
from tests.conftest import next_weekday
from tests.factories import ClientFactory

pytestmark = pytest.mark.django_db(transaction=True)

MSK = zoneinfo.ZoneInfo("Europe/Moscow")
OLGA = 2001


@pytest.fixture
def olga(transactional_db):
    return ClientFactory(name="Ольга Ким", phone="+79031112233", telegram_user_id=OLGA)


@pytest.fixture
def booking(shop, oil_change, olga):
    return booking_create(
        workshop=shop, service=oil_change, client=olga, starts_at=next_weekday(2, MSK, 11), channel=BookingChannel.TELEGRAM,
    )


def test_my_lists_upcoming_bookings_with_cancel_and_reschedule(bot, booking):
    bot.text(OLGA, "/my")
    header, listed = bot.texts(OLGA)[-2:]
    assert "предстоящие записи (1)" in header
    assert "Замена масла" in listed and "в 11:00" in listed and "ул. Мира, 5" in listed
    assert bot.buttons(OLGA) == ["Отменить запись", "Перенести"]


def test_a_client_cancels_after_confirming(bot, booking):
    bot.text(OLGA, "/my")
    bot.press(OLGA, "Отменить запись")
    assert bot.last_text(OLGA).startswith("Отменить запись?")
    bot.press(OLGA, "Да, отменить")
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED
    last = booking.history.last()
    assert (last.event, last.to_status, last.actor) == (BookingEvent.STATUS, BookingStatus.CANCELLED, "Клиент (Telegram)")
    assert "Запись отменена" in bot.last_text(OLGA) and bot.buttons(OLGA) == []


def test_no_keeps_the_booking(bot, booking):
    bot.text(OLGA, "/my")
    bot.press(OLGA, "Отменить запись")
    bot.press(OLGA, "Нет, оставить")
    booking.refresh_from_db()
    assert booking.status == BookingStatus.NEW
    assert "запись остаётся" in bot.last_text(OLGA)


def test_the_cancel_button_works_from_a_reminder_the_worker_sent(bot, booking):
    buttons = keyboards.booking_actions(booking.pk)
    reminder = bot.run(bot.app.bot.send_message(OLGA, "Напоминаем о визите завтра", reply_markup=buttons))
    bot.press(OLGA, "Отменить запись", message=bot.server.sent_to(OLGA)[-1])
    bot.press(OLGA, "Да, отменить")
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED
    assert bot.server.sent_to(OLGA)[0]["text"] == reminder.text, "the reminder itself is left as it was"


def test_a_client_reschedules_through_the_date_and_time_steps(bot, booking, shop):
    old_start = booking.starts_at
    bot.text(OLGA, "/my")
    bot.press(OLGA, "Перенести")
    assert "Переносим запись" in bot.texts(OLGA)[-2]
    bot.press(OLGA, str(old_start.astimezone(MSK).day))
    assert "11:00" in bot.buttons(OLGA), "the booking's own time is free for itself"
    bot.press(OLGA, "15:00")
    summary = bot.last_text(OLGA)
    assert summary.startswith("Перенести запись?") and "Было:" in summary and "в 15:00" in summary
    bot.press(OLGA, "✅ Перенести")
    booking.refresh_from_db()
    assert booking.starts_at.astimezone(MSK).hour == 15 and booking.starts_at.date() == old_start.date()
    assert booking.status == BookingStatus.NEW
    assert booking.history.filter(event=BookingEvent.RESCHEDULED, old_starts_at=old_start).exists()
    assert "Запись перенесена" in bot.last_text(OLGA)


def test_back_from_the_reschedule_calendar_leaves_the_booking_as_it_was(bot, booking):
    bot.text(OLGA, "/my")
    bot.press(OLGA, "Перенести")
    bot.press(OLGA, "« Назад")
    booking.refresh_from_db()
    assert booking.status == BookingStatus.NEW and "перенос отменён" in bot.last_text(OLGA)


def test_my_without_bookings_offers_to_book(bot, olga):
    bot.text(OLGA, "/my")
    assert "Предстоящих записей нет" in bot.last_text(OLGA)
    assert "🗓 Записаться" in bot.buttons(OLGA)


def test_a_reschedule_confirmed_after_the_visit_began_moves_nothing(bot, booking):
    bot.text(OLGA, "/my")
    bot.press(OLGA, "Перенести")
    bot.press_first(OLGA, "day")
    bot.press_first(OLGA, "tm")
    # Meanwhile the visit time comes: the car is on the lift, staff confirmed it.
    now = timezone.now()
    started = (now - timedelta(minutes=10), now + timedelta(minutes=50))
    Booking.objects.filter(pk=booking.pk).update(status=BookingStatus.CONFIRMED, starts_at=started[0], ends_at=started[1])
    bot.press(OLGA, "✅ Перенести")
    booking.refresh_from_db()
    assert (booking.starts_at, booking.ends_at) == started
    assert not booking.history.filter(event=BookingEvent.RESCHEDULED).exists()
    answer = bot.server.calls("answerCallbackQuery")[-1].params["text"]
    assert answer == "Время визита уже наступило — изменить запись можно только по телефону."
    assert "уже наступило, поэтому запись не перенесена" in bot.last_text(OLGA)
    assert "🗓 Записаться" in bot.buttons(OLGA)
