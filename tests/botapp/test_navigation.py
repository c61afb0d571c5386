"""Moving around: «Назад» on every step, /cancel anywhere, a restart mid-flow, branches, Telegram priority."""

import logging

import pytest

from botapp.models import BotSession
from tests.factories import BayFactory, ServiceFactory, VehicleFactory, WorkshopFactory

pytestmark = pytest.mark.django_db(transaction=True)

USER = 4001


def new_client(bot, user_id=USER):
    bot.text(user_id, "/start")
    bot.press(user_id, "✅ Согласен")
    bot.contact(user_id, "79165550044")
    bot.text(user_id, "Мария")


def state(user_id=USER) -> str:
    return BotSession.objects.get(pk=user_id).state


def test_back_leads_one_step_back_from_every_step(bot, shop):
    bot.text(USER, "/start")
    bot.press(USER, "✅ Согласен")
    bot.text(USER, "« Назад")  # the contact step's reply-keyboard button
    assert state() == "" and "остановились" in bot.texts(USER)[-2]
    bot.press(USER, "🗓 Записаться")
    bot.contact(USER, "79165550044")
    bot.press(USER, "« Назад")
    assert state() == "contact"
    bot.contact(USER, "79165550044")
    bot.text(USER, "Мария")
    assert state() == "service"

    walk = [
        ("Замена масла", "car"), ("🚗 Указать автомобиль", "plate"),
    ]
    for label, expected in walk:
        bot.press(USER, label)
        assert state() == expected
    bot.text(USER, "А123ВС77")
    assert state() == "model"
    for expected in ("plate", "car", "service"):
        bot.press(USER, "« Назад")
        assert state() == expected, expected
    bot.press(USER, "Замена масла")
    VehicleFactory(client=_client(), make="Lada", model="Granta", plate="Е001КХ77")
    bot.press(USER, "« Назад")
    bot.press(USER, "Замена масла")
    bot.press(USER, "Lada Granta Е001КХ77")
    assert state() == "date"
    bot.press_first(USER, "day")
    assert state() == "time"
    bot.press_first(USER, "tm")
    assert state() == "comment"
    bot.press(USER, "Без комментария")
    assert state() == "summary", (bot.server.calls("answerCallbackQuery")[-1].params, bot.texts(USER)[-2:])
    for expected in ("comment", "time", "date", "car", "service"):
        bot.press(USER, "« Назад")
        assert state() == expected, expected
    bot.press(USER, "« Назад")
    assert state() == "" and "🗓 Записаться" in bot.buttons(USER)


def _client():
    from clients.models import Client

    return Client.objects.get(telegram_user_id=USER)


@pytest.mark.parametrize("steps", [0, 1, 2, 3])
def test_cancel_leaves_any_step_and_writes_nothing(bot, shop, steps):
    new_client(bot)
    actions = [lambda: bot.press(USER, "Замена масла"), lambda: bot.press(USER, "🚗 Указать автомобиль"),
               lambda: bot.text(USER, "А123ВС77")]
    for action in actions[:steps]:
        action()
    bot.text(USER, "/cancel")
    session = BotSession.objects.get(pk=USER)
    assert session.state == "" and set(session.data) <= {"client_id"}
    assert "остановились" in bot.last_text(USER)
    bot.text(USER, "А123ВС77")
    assert "Не понял вас" in bot.last_text(USER)
    from bookings.models import Booking
    from clients.models import Vehicle

    assert not Vehicle.objects.exists() and not Booking.objects.exists()


def test_cancel_at_the_contact_step_removes_the_share_button(bot, shop):
    bot.text(USER, "/start")
    bot.press(USER, "✅ Согласен")
    bot.text(USER, "/cancel")
    removed = bot.server.sent_to(USER)[-2]
    assert removed["_reply_keyboard"] == {"remove_keyboard": True}


def test_a_restart_mid_flow_continues_where_the_user_was(bot, shop):
    new_client(bot)
    bot.press(USER, "Замена масла")
    bot.press(USER, "🚗 Указать автомобиль")
    bot.text(USER, "А123ВС77")
    bot.press(USER, "Пропустить")
    calendar = bot.server.last_message(USER)
    bot.restart()
    bot.press_first(USER, "day")
    assert state() == "time" and "Свободное время" in bot.last_text(USER)
    assert bot.server.last_message(USER)["message_id"] == calendar["message_id"], "the same message, edited"


def test_with_several_branches_the_client_chooses_one(bot, shop, oil_change):
    north = WorkshopFactory(name="СТО Север", address="пр. Северный, 10")
    BayFactory(workshop=north)
    ServiceFactory(name="Шиномонтаж", workshops=[north])
    new_client(bot)
    assert "Выберите филиал" in bot.last_text(USER)
    assert bot.buttons(USER) == ["СТО Север — пр. Северный, 10", "СТО Центр — ул. Мира, 5", "« Назад"]
    bot.press(USER, "СТО Север — пр. Северный, 10")
    assert [label.split(" · ")[0] for label in bot.buttons(USER)] == ["Шиномонтаж", "« Назад"]
    bot.press(USER, "« Назад")
    assert state() == "branch"


def test_the_bot_says_what_telegram_clients_get_and_offers_the_extra_days(bot, shop):
    shop.telegram_extra_days = 14
    shop.telegram_min_lead_minutes = 15
    shop.save()
    new_client(bot)
    bot.press(USER, "Замена масла")
    bot.press(USER, "🚗 Указать автомобиль")
    bot.text(USER, "А123ВС77")
    bot.press(USER, "Пропустить")
    text = bot.last_text(USER)
    assert "Клиентам Telegram" in text and "на 14 дн. дальше" in text and "уже за 15 мин до визита (обычно — за 1 ч)" in text
    session = BotSession.objects.get(pk=USER)
    from datetime import date

    last_offered = max(date(int(o[:4]), int(o[4:6]), int(o[6:])) for o in session.data["opts"] if not o.startswith("p"))
    first_day = date.fromisoformat(session.data["cal"][0])
    assert (last_offered - first_day).days >= 20, "days beyond the usual 14-day horizon are offered"


def test_a_failing_reply_is_logged_and_the_user_gets_an_apology(bot, shop, caplog):
    caplog.set_level(logging.ERROR, logger="botapp")
    bot.server.fail_next("sendMessage", error_code=400, description="Bad Request: chat not found", retry_after=None)
    bot.text(USER, "/help")
    assert "Update 1 failed" in caplog.text
    assert "Что-то пошло не так" in bot.last_text(USER)


def test_the_token_never_reaches_the_logs(bot, shop, caplog):
    caplog.set_level(logging.DEBUG)
    new_client(bot)
    bot.press(USER, "Замена масла")
    bot.server.fail_next("sendMessage", error_code=400, description="Bad Request: chat not found", retry_after=None)
    bot.text(USER, "/help")
    assert caplog.records, "something was logged"
    assert bot.server.token not in caplog.text
    assert "79165550044" not in caplog.text or all(
        record.name.startswith("telegram") and record.levelno == logging.DEBUG
        for record in caplog.records if "79165550044" in record.getMessage()
    )


def test_a_long_horizon_is_paged_and_a_later_page_books_as_well(bot, shop):
    shop.horizon_days = 60
    shop.save()
    new_client(bot)
    bot.press(USER, "Замена масла")
    bot.press(USER, "🚗 Указать автомобиль")
    bot.text(USER, "А123ВС77")
    bot.press(USER, "Пропустить")
    first_page = bot.buttons(USER)
    assert "Позже ›" in first_page and "‹ Раньше" not in first_page
    assert len(first_page) <= 1 + 7 + 5 * 7 + 1 + 1, "one month label, weekdays, five weeks, pager, back"
    bot.press(USER, "Позже ›")
    assert "‹ Раньше" in bot.buttons(USER) and bot.buttons(USER)[0] != first_page[0]
    later = bot.press_first(USER, "day")
    assert state() == "time" and BotSession.objects.get(pk=USER).data["day"] == later.rsplit(":", 1)[1]
