"""The whole booking path through the real bot: a new client, and a client already in the base."""

import pytest

from bookings.models import Booking, BookingChannel, BookingStatus
from botapp.flow.start import CONSENT_VERSION
from botapp.models import BotSession
from clients.consents import consent_text_hash
from clients.models import Client, Consent, Vehicle
from tests.factories import ClientFactory, VehicleFactory

pytestmark = pytest.mark.django_db(transaction=True)

ANNA = 1001
IVAN = 1002


def agree(bot, user_id):
    bot.text(user_id, "/start")
    bot.press(user_id, "✅ Согласен")


def test_a_new_client_books_from_start_to_confirmation(bot, shop, oil_change):
    bot.text(ANNA, "/start")
    greeting, consent = bot.server.sent_to(ANNA)[-2:]
    assert "согласие" in greeting["text"].lower()
    assert consent["text"].startswith("СОГЛАСИЕ НА ОБРАБОТКУ")
    assert "ООО «Автосервис Плюс»" in consent["text"] and "ул. Ленина, д. 1" in consent["text"]
    assert bot.buttons(ANNA, consent) == ["✅ Согласен"]
    assert not any("request_contact" in str(call.params) for call in bot.server.calls("sendMessage")), \
        "nothing personal is asked before consent"

    bot.press(ANNA, "✅ Согласен")
    recorded = Consent.objects.get(telegram_user_id=ANNA)
    assert (recorded.purpose, recorded.text_version, recorded.channel) == ("personal_data", CONSENT_VERSION, "telegram")
    assert recorded.message_id == consent["message_id"]
    assert recorded.text == consent["text"] and recorded.text_hash == consent_text_hash(consent["text"])
    assert recorded.client is None
    contact_request = bot.server.last_message(ANNA)
    assert contact_request["_reply_keyboard"]["keyboard"][0][0]["request_contact"] is True

    bot.contact(ANNA, "79161234567")
    assert "Как к вам обращаться" in bot.last_text(ANNA)
    bot.text(ANNA, "Анна Смирнова")
    assert "Приятно познакомиться, Анна Смирнова" in bot.texts(ANNA)[-2]
    assert "Замена масла · 1 ч · от 1\u00a0500\u00a0₽" in bot.buttons(ANNA)

    bot.press(ANNA, "Замена масла")
    bot.press(ANNA, "🚗 Указать автомобиль")
    bot.text(ANNA, "а 123 вс 77")
    assert "А123ВС77" in bot.last_text(ANNA)
    bot.text(ANNA, "Kia Rio")
    bot.press_first(ANNA, "day")
    chosen = bot.press_first(ANNA, "tm")
    bot.text(ANNA, "Стучит подвеска <b>*_")
    summary = bot.last_text(ANNA)
    assert "Kia Rio А123ВС77" in summary and "Стучит подвеска <b>*_" in summary and "ул. Мира, 5" in summary
    bot.press(ANNA, "✅ Подтвердить")

    booking = Booking.objects.get()
    client = Client.objects.get(telegram_user_id=ANNA)
    assert (booking.client, booking.channel, booking.status) == (client, BookingChannel.TELEGRAM, BookingStatus.NEW)
    assert booking.service == oil_change and booking.workshop == shop
    assert booking.starts_at.astimezone(shop.tz).strftime("%Y%m%d%H%M") == chosen.rsplit(":", 1)[1]
    assert booking.comment == "Стучит подвеска <b>*_"
    assert (booking.vehicle.plate, booking.vehicle.make, booking.vehicle.model) == ("А123ВС77", "Kia", "Rio")
    assert client.name == "Анна Смирнова" and client.phones.get().number == "+79161234567"
    recorded.refresh_from_db()
    assert recorded.client == client
    confirmation = bot.server.last_message(ANNA)
    assert "Вы записаны" in confirmation["text"] and "ул. Мира, 5" in confirmation["text"]
    assert bot.buttons(ANNA, confirmation) == ["Отменить запись"]
    assert confirmation["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == f"bk:cancel:{booking.pk}"
    session = BotSession.objects.get(pk=ANNA)
    assert session.state == "" and "phone" not in session.data
    assert all(call.params.get("parse_mode") is None for call in bot.server.calls("sendMessage"))


def test_a_client_from_the_base_is_greeted_by_name_and_offered_their_cars(bot, shop, oil_change):
    ivan = ClientFactory(name="Иван Петров", phone="+79121234567")
    car = VehicleFactory(client=ivan, make="Lada", model="Vesta", plate="А001ВС77")
    agree(bot, IVAN)
    bot.contact(IVAN, "+7 912 123-45-67")
    assert "Здравствуйте, Иван Петров" in bot.texts(IVAN)[-2]

    bot.press(IVAN, "Замена масла")
    assert bot.buttons(IVAN) == ["Lada Vesta А001ВС77", "🚗 Другой автомобиль", "« Назад"]
    bot.press(IVAN, "Lada Vesta А001ВС77")
    bot.press_first(IVAN, "day")
    bot.press_first(IVAN, "tm")
    bot.press(IVAN, "Без комментария")
    assert "Автомобиль: Lada Vesta А001ВС77" in bot.last_text(IVAN)
    bot.press(IVAN, "✅ Подтвердить")

    booking = Booking.objects.get()
    assert (booking.client, booking.vehicle) == (ivan, car)
    ivan.refresh_from_db()
    assert ivan.telegram_user_id == IVAN
    assert Client.objects.count() == 1 and Vehicle.objects.count() == 1
    assert Consent.objects.get(telegram_user_id=IVAN).client == ivan
