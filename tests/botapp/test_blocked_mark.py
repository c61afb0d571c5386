"""A client marked «blocked the bot» is unmarked as soon as they talk to it again, and the bot hears (un)blocking."""

import time

import pytest
from django.utils import timezone

from bookings.models import Booking, BookingStatus, Notification, NotificationState
from bookings.notifications.dispatch import notification_send
from bookings.services import booking_transition
from botapp.flow.start import CONSENT_VERSION
from clients.consents import consent_record
from clients.models import Client, ConsentPurpose
from tests.botapi import BOT_ID
from tests.factories import ClientFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

USER = 6001


@pytest.fixture
def ivan(shop):
    """A client who booked through the bot before, then blocked it: a reminder got 403 and marked him."""
    ivan = ClientFactory(name="Иван Петров", phone="+79121234567", telegram_user_id=USER)
    consent_record(purpose=ConsentPurpose.PERSONAL_DATA, text_version=CONSENT_VERSION, text="…",
                   channel="telegram", telegram_user_id=USER, client_id=ivan.pk)
    Client.objects.filter(pk=ivan.pk).update(telegram_blocked_at=timezone.now())
    return ivan


def marked(client: Client) -> bool:
    client.refresh_from_db()
    return client.telegram_blocked_at is not None


def member_update(bot, status: str, old_status: str) -> None:
    """Telegram's my_chat_member update: the user changed the bot's status in their private chat."""
    user = bot.server.user(USER)
    bot_user = {"id": BOT_ID, "is_bot": True, "first_name": "СТО Запись", "username": "sto_test_bot"}

    def member(status: str) -> dict:
        return {"user": bot_user, "status": status, **({"until_date": 0} if status == "kicked" else {})}

    bot.server.push_update({"my_chat_member": {
        "chat": {"id": USER, "type": "private", "first_name": "Тест"}, "from": user, "date": int(time.time()),
        "old_chat_member": member(old_status), "new_chat_member": member(status),
    }})
    bot.deliver()


def test_a_returning_client_who_books_gets_the_confirmation(bot, ivan):
    bot.text(USER, "/start")
    assert not marked(ivan)
    bot.press(USER, "🗓 Записаться")
    bot.press(USER, "Замена масла")
    bot.press(USER, "🚗 Указать автомобиль")
    bot.text(USER, "В777ОР99")
    bot.press(USER, "Пропустить")
    bot.press_first(USER, "day")
    bot.press_first(USER, "tm")
    bot.press(USER, "Без комментария")
    bot.press(USER, "✅ Подтвердить")
    booking = Booking.objects.get()
    booking_transition(booking=booking, to_status=BookingStatus.CONFIRMED, by_user=UserFactory())
    row = Notification.objects.get(booking=booking, channel="telegram", template_key="client_booking_confirmed")
    assert notification_send(row.pk) == NotificationState.SENT
    assert "подтвержд" in bot.last_text(USER).lower()


@pytest.mark.parametrize("act", [
    lambda bot: bot.text(USER, "привет"),
    lambda bot: bot.press_data(USER, "menu:help"),
])
def test_any_message_or_button_unmarks_the_client(bot, ivan, act):
    bot.text(USER, "/help")  # something to press under
    Client.objects.filter(pk=ivan.pk).update(telegram_blocked_at=timezone.now())
    act(bot)
    assert not marked(ivan)


def test_a_client_who_is_not_marked_stays_as_he_was(bot, shop):
    maria = ClientFactory(name="Мария", phone="+79121234500", telegram_user_id=USER)
    bot.text(USER, "/start")
    assert not marked(maria)


def test_blocking_the_bot_marks_the_client_and_unblocking_unmarks_him(bot, ivan):
    Client.objects.filter(pk=ivan.pk).update(telegram_blocked_at=None)
    member_update(bot, "kicked", "member")
    assert marked(ivan)
    member_update(bot, "member", "kicked")
    assert not marked(ivan)
    assert not bot.server.calls("sendMessage")  # nothing to say to a (un)blocking user
