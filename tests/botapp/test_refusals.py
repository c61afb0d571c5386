"""Everything the bot refuses, and that a refusal writes nothing."""

import threading
import zoneinfo
from datetime import timedelta

import pytest
from django.utils import timezone

from bookings.models import Booking, BookingChannel, BookingStatus
from bookings.services import booking_create
from botapp import flow
from botapp.flow import TgUser
from botapp.flow.start import CONSENT_VERSION
from botapp.models import BotSession
from clients.models import Client, ClientPhone, Consent, Vehicle
from tests.conftest import next_weekday
from tests.factories import ClientFactory, VehicleFactory

pytestmark = pytest.mark.django_db(transaction=True)

MSK = zoneinfo.ZoneInfo("Europe/Moscow")
USER = 3001
OTHER = 3002


def agree(bot, user_id=USER):
    bot.text(user_id, "/start")
    bot.press(user_id, "✅ Согласен")


def new_client(bot, user_id=USER, phone="79165550011", name="Пётр"):
    agree(bot, user_id)
    bot.contact(user_id, phone)
    bot.text(user_id, name)


def to_summary(bot, user_id=USER):
    """From the service screen to the summary with the client's first car or a new one."""
    bot.press(user_id, "Замена масла")
    if "🚗 Указать автомобиль" in bot.buttons(user_id):
        bot.press(user_id, "🚗 Указать автомобиль")
        bot.text(user_id, "В777ОР99")
        bot.press(user_id, "Пропустить")
    else:
        bot.press_first(user_id, "car")
    calendar_to_summary(bot, user_id)
    assert bot.last_text(user_id).startswith("Проверьте запись")


def calendar_to_summary(bot, user_id=USER):
    """The first free day and time, no comment."""
    bot.press_first(user_id, "day")
    bot.press_first(user_id, "tm")
    bot.press(user_id, "Без комментария")


# --- contact --------------------------------------------------------------------------
def test_it_refuses_someone_elses_contact(bot, shop):
    agree(bot)
    bot.contact(USER, "79165550011", contact_user_id=OTHER)
    assert "Это не ваш номер" in bot.last_text(USER)
    bot.contact(USER, "79165550012", contact_user_id=None)
    assert "Это не ваш номер" in bot.last_text(USER)
    assert not ClientPhone.objects.exists() and not Client.objects.exists()
    assert "phone" not in BotSession.objects.get(pk=USER).data


def test_it_does_not_take_a_contact_before_consent(bot, shop):
    bot.contact(USER, "79165550011")
    assert bot.last_text(USER).startswith("СОГЛАСИЕ НА ОБРАБОТКУ")
    assert not Client.objects.exists() and not Consent.objects.exists()
    assert "phone" not in BotSession.objects.get(pk=USER).data


def test_it_asks_again_for_a_new_version_of_the_consent_and_keeps_the_old_record(bot, shop):
    old = Consent.objects.create(
        telegram_user_id=USER, purpose="personal_data", text_version="0", text_hash="x" * 64, text="старый текст",
        channel="telegram",
    )
    bot.text(USER, "/start")
    assert bot.last_text(USER).startswith("СОГЛАСИЕ НА ОБРАБОТКУ")
    bot.press(USER, "✅ Согласен")
    assert Consent.objects.filter(telegram_user_id=USER).count() == 2
    old_again = Consent.objects.get(pk=old.pk)
    assert (old_again.text, old_again.text_version, old_again.withdrawn_at) == ("старый текст", "0", None)


def test_an_older_consent_button_pressed_after_accepting_the_current_text_changes_nothing(bot, shop):
    new_client(bot)  # the current consent given, the client linked, the service screen shown
    before = BotSession.objects.get(pk=USER)
    consent = next(m for m in bot.server.sent_to(USER) if m["text"].startswith("СОГЛАСИЕ"))
    bot.press_data(USER, "consent:1", message=consent)  # as if it were an unpressed consent of version 1
    assert bot.server.calls("answerCallbackQuery")[-1].params["text"] == "Согласие уже получено, спасибо."
    after = BotSession.objects.get(pk=USER)
    assert (after.state, after.step, after.data) == (before.state, before.step, before.data)
    assert Consent.objects.filter(telegram_user_id=USER).count() == 1
    bot.press(USER, "Замена масла")  # the booking goes on
    assert BotSession.objects.get(pk=USER).state == "car"


def test_a_double_tapped_consent_is_recorded_once(bot, shop):
    bot.text(USER, "/start")
    consent = bot.server.last_message(USER)
    bot.server.user_presses(USER, f"consent:{CONSENT_VERSION}", message=consent)
    bot.server.user_presses(USER, f"consent:{CONSENT_VERSION}", message=consent)
    bot.deliver()
    assert Consent.objects.filter(telegram_user_id=USER).count() == 1
    assert len(bot.server.calls("answerCallbackQuery")) == 2


# --- car ------------------------------------------------------------------------------
OTHERS_VIN = "XTA21700080123456"


def to_plate(bot):
    new_client(bot)
    bot.press(USER, "Замена масла")
    bot.press(USER, "🚗 Указать автомобиль")


def to_calendar(bot):
    to_plate(bot)
    bot.text(USER, "В777ОР99")
    bot.press(USER, "Пропустить")


def test_a_vin_on_another_clients_card_is_refused_at_once_without_naming_the_owner(bot, shop):
    VehicleFactory(vin=OTHERS_VIN, plate="", client=ClientFactory(name="Сидоров Аркадий", phone="+79160000009"))
    to_plate(bot)
    bot.text(USER, OTHERS_VIN)
    refusal = bot.texts(USER)[-2]
    assert "VIN уже есть в нашей базе" in refusal and "+7 495 123-45-67" in refusal
    assert "Сидоров" not in refusal and "клиент" not in refusal
    assert BotSession.objects.get(pk=USER).state == "plate"
    bot.text(USER, "В777ОР99")  # the plate instead
    bot.press(USER, "Пропустить")
    calendar_to_summary(bot)
    bot.press(USER, "✅ Подтвердить")
    mine = Booking.objects.get()
    assert (mine.vehicle.plate, mine.vehicle.vin) == ("В777ОР99", "")
    assert Vehicle.objects.get(vin=OTHERS_VIN).client.name == "Сидоров Аркадий"


def test_after_a_refused_vin_the_client_may_book_without_a_car(bot, shop):
    VehicleFactory(vin=OTHERS_VIN, plate="")
    to_plate(bot)
    bot.text(USER, OTHERS_VIN)
    bot.press(USER, "Продолжить без автомобиля")
    calendar_to_summary(bot)
    assert "Автомобиль:" not in bot.last_text(USER)
    bot.press(USER, "✅ Подтвердить")
    assert Booking.objects.get().vehicle is None
    assert Vehicle.objects.count() == 1


def test_after_a_refused_vin_and_a_mistyped_plate_booking_without_a_car_is_still_offered(bot, shop):
    VehicleFactory(vin=OTHERS_VIN, plate="")
    to_plate(bot)
    bot.text(USER, OTHERS_VIN)
    bot.text(USER, "???")
    assert "Продолжить без автомобиля" in bot.buttons(USER)
    bot.press(USER, "Продолжить без автомобиля")
    calendar_to_summary(bot)
    bot.press(USER, "✅ Подтвердить")
    assert Booking.objects.get().vehicle is None


def test_a_typed_plate_or_vin_is_named_as_what_it_is(bot, shop):
    to_plate(bot)
    bot.text(USER, OTHERS_VIN)
    assert bot.last_text(USER).startswith(f"VIN {OTHERS_VIN} записал. Марка и модель?")
    bot.press(USER, "Назад")
    bot.text(USER, "в777ор99")
    assert bot.last_text(USER).startswith("Госномер В777ОР99 записал.")


def test_a_vin_taken_while_the_client_was_choosing_leads_back_to_the_car_not_the_calendar(bot, shop):
    to_plate(bot)
    bot.text(USER, OTHERS_VIN)
    bot.press(USER, "Пропустить")
    calendar_to_summary(bot)
    VehicleFactory(vin=OTHERS_VIN, plate="")  # staff entered the car for another client meanwhile
    bot.press(USER, "✅ Подтвердить")
    assert not Booking.objects.exists() and Vehicle.objects.count() == 1
    assert "VIN уже есть в нашей базе" in bot.texts(USER)[-2]
    assert BotSession.objects.get(pk=USER).state == "plate"
    bot.text(USER, "В777ОР99")
    bot.press(USER, "Пропустить")
    bot.press_first(USER, "day")
    bot.press_first(USER, "tm")  # the comment is remembered: straight to the summary
    bot.press(USER, "✅ Подтвердить")
    assert Booking.objects.get().vehicle.plate == "В777ОР99"


# --- callback data --------------------------------------------------------------------
def test_tampered_and_unknown_callback_data_is_answered_and_changes_nothing(bot, shop):
    new_client(bot)
    session = BotSession.objects.get(pk=USER)
    answered = len(bot.server.calls("answerCallbackQuery"))
    for data in (f"s:{session.step}:sv:999999", f"s:{session.step}:day:20300101", f"s:{session.step}:ok",
                 "s:1:sv:abc", "garbage", "", "bk:cancel:abc", "consent:../../etc"):
        bot.press_data(USER, data)
    assert len(bot.server.calls("answerCallbackQuery")) == answered + 8
    after = BotSession.objects.get(pk=USER)
    assert (after.state, after.step) == (session.state, session.step)
    assert not Booking.objects.exists()


def test_another_users_booking_id_is_refused_like_a_missing_one(bot, shop, oil_change):
    stranger = ClientFactory(name="Чужой", phone="+79160000001", telegram_user_id=OTHER)
    theirs = booking_create(
        workshop=shop, service=oil_change, client=stranger, starts_at=next_weekday(1, MSK, 10), channel=BookingChannel.PHONE,
    )
    new_client(bot)
    for action in ("cancel", "cancelok", "resched", "keep"):
        bot.press_data(USER, f"bk:{action}:{theirs.pk}")
    bot.press_data(USER, "bk:cancelok:999999999")
    theirs.refresh_from_db()
    assert theirs.status == BookingStatus.NEW and theirs.history.count() == 1
    answers = [call.params.get("text") for call in bot.server.calls("answerCallbackQuery")]
    assert answers[-5:] == ["Эта запись недоступна: она не найдена среди ваших."] * 5
    assert BotSession.objects.get(pk=USER).data.get("mode") != "resched"


def test_a_stale_calendar_gets_a_polite_answer(bot, shop):
    new_client(bot)
    bot.press(USER, "Замена масла")
    bot.press(USER, "🚗 Указать автомобиль")
    bot.text(USER, "В777ОР99")
    bot.press(USER, "Пропустить")
    old_calendar = bot.server.last_message(USER)
    bot.press_first(USER, "day")
    state = BotSession.objects.get(pk=USER)
    old_day = next(b["callback_data"] for row in old_calendar["reply_markup"]["inline_keyboard"] for b in row
                   if ":day:" in b["callback_data"])
    bot.press_data(USER, old_day, message=old_calendar)
    assert bot.server.calls("answerCallbackQuery")[-1].params["text"].startswith("Эта кнопка уже не действует")
    assert BotSession.objects.get(pk=USER).step == state.step


@pytest.mark.parametrize("kind", ["a page as a day", "a day as a page"])
def test_calendar_data_of_the_wrong_kind_gets_a_polite_answer(bot, shop, caplog, kind):
    to_calendar(bot)
    session = BotSession.objects.get(pk=USER)
    a_day = next(option for option in session.data["opts"] if not option.startswith("p"))
    bot.press_data(USER, f"s:{session.step}:day:p0" if kind == "a page as a day" else f"s:{session.step}:pg:{a_day}")
    assert bot.server.calls("answerCallbackQuery")[-1].params["text"].startswith("Эта кнопка уже не действует")
    assert not any("Что-то пошло не так" in text for text in bot.texts(USER))
    assert not [record for record in caplog.records if record.levelname == "ERROR"]
    assert BotSession.objects.get(pk=USER).step == session.step


def offer(value: str) -> BotSession:
    """Put ``value`` among the current screen's options: what the session holds for a screen drawn yesterday."""
    session = BotSession.objects.get(pk=USER)
    session.data["opts"].append(value)
    BotSession.objects.filter(pk=USER).update(data=session.data)
    return session


def test_a_day_button_from_yesterdays_calendar_says_the_day_has_passed(bot, shop):
    to_calendar(bot)
    yesterday = (timezone.now().astimezone(MSK) - timedelta(days=1)).strftime("%Y%m%d")
    session = offer(yesterday)
    bot.press_data(USER, f"s:{session.step}:day:{yesterday}")
    assert "уже прошёл. Выберите другой день." in bot.texts(USER)[-2]
    assert "разобрали" not in bot.texts(USER)[-2]
    assert BotSession.objects.get(pk=USER).state == "date"


def test_a_time_button_from_yesterdays_list_is_refused_at_once_with_the_current_times(bot, shop):
    to_calendar(bot)
    bot.press_first(USER, "day")
    stamp = (timezone.now().astimezone(MSK) - timedelta(days=1)).replace(hour=10, minute=0).strftime("%Y%m%d%H%M")
    session = offer(stamp)
    bot.press_data(USER, f"s:{session.step}:tm:{stamp}")
    assert "в 10:00 уже прошло. Выберите другое." in bot.texts(USER)[-2]
    after = BotSession.objects.get(pk=USER)
    assert after.state == "time" and stamp not in after.data["opts"] and after.data.get("at") is None
    assert "Свободное время начала" in bot.last_text(USER)
    bot.press_first(USER, "tm")
    assert "комментари" in bot.last_text(USER).lower()


def test_the_buttons_of_a_cancelled_booking_answer_politely(bot, shop, oil_change):
    new_client(bot)
    to_summary(bot)
    bot.press(USER, "✅ Подтвердить")
    confirmation = bot.server.last_message(USER)
    bot.press(USER, "Отменить запись")
    bot.press(USER, "Да, отменить")
    bot.press(USER, "Отменить запись", message=confirmation)
    answer = bot.server.calls("answerCallbackQuery")[-1].params["text"]
    assert answer == "С этой записью уже ничего не сделать: её статус — «отменена»."
    assert Booking.objects.get().status == BookingStatus.CANCELLED


# --- confirming -------------------------------------------------------------------------
def test_a_double_tapped_confirm_books_once_answers_both_and_removes_the_keyboard(bot, shop):
    new_client(bot)
    to_summary(bot)
    summary = bot.server.last_message(USER)
    bot.server.user_presses(USER, bot.find_button(USER, "✅ Подтвердить")[0], message=summary)
    bot.server.user_presses(USER, bot.find_button(USER, "✅ Подтвердить")[0], message=summary)
    bot.deliver()
    assert Booking.objects.count() == 1
    answers = [call.params.get("text") for call in bot.server.calls("answerCallbackQuery")[-2:]]
    assert answers == ["Готово, вы записаны.", "Уже сделано — смотрите сообщение выше."]
    assert bot.buttons(USER, bot.server.sent_to(USER)[-1]) == ["Отменить запись"]


def test_an_older_summarys_confirm_books_nothing_says_so_and_shows_the_current_summary(bot, shop):
    new_client(bot)
    to_summary(bot)
    old_summary = bot.server.last_message(USER)
    bot.text(USER, "а можно пораньше?")  # text where a button is expected: the summary is drawn again
    bot.press(USER, "✅ Подтвердить", message=old_summary)
    assert not Booking.objects.exists()
    assert bot.server.calls("answerCallbackQuery")[-1].params["text"] == "Эта кнопка устарела — по ней ничего не сделано."
    assert "запись не создана" in bot.texts(USER)[-2]
    assert bot.last_text(USER).startswith("Проверьте запись")
    old_now = next(m for m in bot.server.sent_to(USER) if m["message_id"] == old_summary["message_id"])
    assert bot.buttons(USER, old_now) == []  # the old summary lost its buttons
    bot.press(USER, "✅ Подтвердить")
    assert Booking.objects.count() == 1


def test_an_older_summarys_confirm_after_start_books_nothing_and_shows_the_menu(bot, shop):
    new_client(bot)
    to_summary(bot)
    old_summary = bot.server.last_message(USER)
    bot.text(USER, "/start")
    bot.press(USER, "✅ Подтвердить", message=old_summary)
    assert not Booking.objects.exists()
    assert bot.server.calls("answerCallbackQuery")[-1].params["text"] == "Эта кнопка устарела — по ней ничего не сделано."
    assert "🗓 Записаться" in bot.buttons(USER)


def test_the_confirm_that_booked_says_done_even_after_start(bot, shop):
    new_client(bot)
    to_summary(bot)
    summary = bot.server.last_message(USER)
    bot.press(USER, "✅ Подтвердить")
    bot.text(USER, "/start")
    bot.press(USER, "✅ Подтвердить", message=summary)
    assert Booking.objects.count() == 1
    assert bot.server.calls("answerCallbackQuery")[-1].params["text"] == "Уже сделано — смотрите сообщение выше."


def test_confirms_from_two_processes_at_once_book_once(bot, shop):
    """Two bot processes (here: threads with their own connections) handle both taps at the same moment."""
    new_client(bot)
    to_summary(bot)
    data, summary = bot.find_button(USER, "✅ Подтвердить")
    barrier = threading.Barrier(2)
    replies = []

    def tap():
        from django.db import connection

        barrier.wait()
        try:
            replies.append(flow.handle_button(TgUser(USER), data, summary["message_id"]))
        finally:
            connection.close()

    threads = [threading.Thread(target=tap) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert Booking.objects.count() == 1
    assert sorted(reply.answer for reply in replies) == ["Готово, вы записаны.", "Уже сделано — смотрите сообщение выше."]


def test_a_slot_taken_meanwhile_offers_the_nearest_free_times(bot, shop, oil_change):
    new_client(bot)
    to_summary(bot)
    session = BotSession.objects.get(pk=USER)
    wanted = session.data["at"]
    from datetime import datetime

    from botapp.flow.booking import STAMP

    starts_at = datetime.strptime(wanted, STAMP).replace(tzinfo=MSK)
    booking_create(workshop=shop, service=oil_change, client=ClientFactory(), starts_at=starts_at, channel=BookingChannel.PHONE)
    bot.press(USER, "✅ Подтвердить")
    assert "Пока вы выбирали" in bot.last_text(USER) and "заняли" in bot.last_text(USER)
    alternatives = [label for label in bot.buttons(USER) if " в " in label]
    assert alternatives and len(alternatives) <= 6
    bot.press(USER, alternatives[0])
    bot.press(USER, "✅ Подтвердить")
    mine = Booking.objects.get(client__telegram_user_id=USER)
    assert mine.starts_at != starts_at and mine.starts_at - starts_at <= timedelta(days=3)
    assert Vehicle.objects.filter(client__telegram_user_id=USER).count() == 1


# --- text of any kind --------------------------------------------------------------------
NASTY = [
    "😀" * 50,
    "\u202eвеС\u202c",
    "\x00\x00",
    "<script>alert(1)</script>",
    "*_`[Иван](http://x)",
    "   ",
]


def test_a_4096_character_name_is_refused_clearly_and_nothing_is_written(bot, shop):
    agree(bot)
    bot.contact(USER, "79165550011")
    bot.text(USER, "Я" * 4096)
    assert "слишком длинное" in bot.texts(USER)[-2]
    assert not Client.objects.exists() and not ClientPhone.objects.exists()
    assert BotSession.objects.get(pk=USER).state == "name"


@pytest.mark.parametrize("typed", NASTY)
def test_nasty_names_get_a_clear_answer_and_no_half_written_client(bot, shop, typed):
    agree(bot)
    bot.contact(USER, "79165550011")
    bot.text(USER, typed)
    client = Client.objects.filter(telegram_user_id=USER).first()
    if client is None:
        assert "Укажите имя" in bot.texts(USER)[-2]
        assert not ClientPhone.objects.exists()
    else:
        assert "\x00" not in client.name and "\u202e" not in client.name
        assert client.phones.get().number == "+79165550011"
        assert f"Приятно познакомиться, {client.name}!" in bot.texts(USER)


def test_a_name_with_rtl_marks_and_nul_bytes_is_stored_clean(bot, shop):
    agree(bot)
    bot.contact(USER, "79165550011")
    bot.text(USER, "Ан\x00на\u200f \u202eСмирнова\u202c")
    assert Client.objects.get().name == "Анна Смирнова"


def test_long_and_odd_texts_at_every_text_step_are_refused_without_writing(bot, shop):
    new_client(bot)
    bot.press(USER, "Замена масла")
    bot.press(USER, "🚗 Указать автомобиль")
    for typed in ("Я" * 4096, "\x00", "💥💥💥", "<b>А123ВС77</b>"):
        bot.text(USER, typed)
        assert "не похож на российский" in bot.texts(USER)[-2] or "VIN" in bot.texts(USER)[-2]
    bot.text(USER, "В777ОР99")
    bot.text(USER, "М" * 4096)
    assert "не длиннее 100 символов" in bot.texts(USER)[-2]
    bot.text(USER, "Škoda Octavia 🚗")
    bot.press_first(USER, "day")
    bot.press_first(USER, "tm")
    bot.text(USER, "к" * 4096)
    assert "длинноват: 4096 символов" in bot.texts(USER)[-2]
    bot.text(USER, "[ссылка](http://x) *жирный* <i>")
    assert "[ссылка](http://x) *жирный* <i>" in bot.last_text(USER)
    assert not Booking.objects.exists() and not Vehicle.objects.exists()
    assert all(len(call.params["text"]) <= 4096 for call in bot.server.calls("sendMessage"))


def test_a_location_or_a_sticker_gets_a_hint(bot, shop):
    bot.server.push_update({"message": bot.server._incoming_message(USER, location={"latitude": 55.75, "longitude": 37.6})})
    bot.deliver()
    assert "только текст и кнопки" in bot.last_text(USER)


# --- flood --------------------------------------------------------------------------------
def test_a_flood_is_cut_after_twenty_updates_with_one_slow_down(bot, shop):
    for number in range(35):
        bot.server.user_sends_text(USER, f"привет {number}")
    bot.deliver()
    texts = bot.texts(USER)
    assert texts.count("Не так быстро 🙂 Подождите несколько секунд — лишние сообщения я пропускаю.") == 1
    assert len(texts) == 21


def test_another_user_is_not_slowed_by_someones_flood(bot, shop):
    for number in range(25):
        bot.server.user_sends_text(USER, "спам")
    bot.server.user_sends_text(OTHER, "/help")
    bot.deliver()
    assert "/my — мои записи" in bot.last_text(OTHER)
