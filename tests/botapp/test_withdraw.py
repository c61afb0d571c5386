"""/withdraw: the person takes back their consent; the records stay, the account is unlinked, nothing personal is asked."""

import zoneinfo

import pytest

from bookings.models import BookingChannel, BookingStatus
from bookings.services import booking_create
from botapp.models import BotSession
from clients.models import Client, Consent, ConsentPurpose
from tests.conftest import next_weekday
from tests.factories import ClientFactory

pytestmark = pytest.mark.django_db(transaction=True)

MSK = zoneinfo.ZoneInfo("Europe/Moscow")
USER = 4001
STRANGER = 4002


def linked_client(bot, user_id=USER, phone="79165550011", name="Пётр"):
    bot.text(user_id, "/start")
    bot.press(user_id, "✅ Согласен")
    bot.contact(user_id, phone)
    bot.text(user_id, name)
    return Client.objects.get(telegram_user_id=user_id)


def test_the_consent_text_and_help_name_the_withdraw_command(bot, shop):
    bot.text(USER, "/start")
    assert "командой /withdraw" in bot.last_text(USER)
    bot.text(USER, "/help")
    assert "/withdraw — отозвать согласие" in bot.last_text(USER)


def test_withdrawing_marks_the_consents_unlinks_the_account_and_keeps_the_records(bot, shop):
    client = linked_client(bot)
    consent = Consent.objects.get(telegram_user_id=USER)
    marketing = Consent.objects.create(
        client=client, purpose=ConsentPurpose.MARKETING, text_version="1", text_hash="0" * 64,
        text="Согласен получать рассылки.", channel="telegram",
    )

    bot.text(USER, "/withdraw")
    assert bot.last_text(USER).startswith("Отозвать согласие на обработку персональных данных?")
    assert bot.buttons(USER) == ["Отозвать согласие", "Оставить"]
    assert Consent.objects.get(pk=consent.pk).withdrawn_at is None, "nothing happens before the person confirms"

    bot.press(USER, "Отозвать согласие")
    assert bot.last_text(USER).startswith("Согласие отозвано.")
    assert bot.server.calls("answerCallbackQuery")[-1].params["text"] == "Согласие отозвано."
    withdrawn = Consent.objects.get(pk=consent.pk)
    assert withdrawn.withdrawn_at is not None
    assert (withdrawn.text, withdrawn.text_hash, withdrawn.given_at, withdrawn.client) == (
        consent.text, consent.text_hash, consent.given_at, client), "the record of what was agreed stays as it was"
    assert Consent.objects.get(pk=marketing.pk).withdrawn_at is not None
    client.refresh_from_db()
    assert (client.telegram_user_id, client.telegram_username) == (None, "")
    assert client.name == "Пётр", "deleting the data is the operator's step, not the bot's"
    assert BotSession.objects.get(pk=USER).data == {}


def test_after_withdrawing_the_bot_asks_for_consent_before_anything_personal(bot, shop):
    linked_client(bot)
    bot.text(USER, "/help")
    old_menu = bot.server.last_message(USER)
    bot.text(USER, "/withdraw")
    bot.press(USER, "Отозвать согласие")
    contact_requests = len([c for c in bot.server.calls("sendMessage") if "request_contact" in str(c.params)])

    bot.press(USER, "🗓 Записаться", message=old_menu)
    assert bot.last_text(USER).startswith("СОГЛАСИЕ НА ОБРАБОТКУ")
    bot.contact(USER, "79165550011")
    assert bot.last_text(USER).startswith("СОГЛАСИЕ НА ОБРАБОТКУ")
    bot.text(USER, "/start")
    assert bot.last_text(USER).startswith("СОГЛАСИЕ НА ОБРАБОТКУ")
    bot.text(USER, "/my")
    assert bot.last_text(USER).startswith("Предстоящих записей нет")
    assert len([c for c in bot.server.calls("sendMessage") if "request_contact" in str(c.params)]) == contact_requests
    assert Client.objects.get().telegram_user_id is None


def test_agreeing_again_makes_a_new_record_and_the_phone_links_the_same_client(bot, shop):
    client = linked_client(bot)
    bot.text(USER, "/withdraw")
    bot.press(USER, "Отозвать согласие")

    bot.text(USER, "/start")
    bot.press(USER, "✅ Согласен")
    bot.contact(USER, "79165550011")
    assert "Пётр" in bot.texts(USER)[-2]
    consents = Consent.objects.filter(telegram_user_id=USER, purpose=ConsentPurpose.PERSONAL_DATA).order_by("pk")
    assert [c.withdrawn_at is None for c in consents] == [False, True]
    assert Client.objects.get().pk == client.pk and Client.objects.get().telegram_user_id == USER


def test_an_old_booking_button_after_withdrawing_is_not_theirs_any_more(bot, shop, oil_change):
    client = linked_client(bot)
    booking = booking_create(
        workshop=shop, service=oil_change, client=client, starts_at=next_weekday(2, MSK, 11),
        channel=BookingChannel.TELEGRAM,
    )
    bot.text(USER, "/withdraw")
    bot.press(USER, "Отозвать согласие")

    bot.press_data(USER, f"bk:cancelok:{booking.pk}")
    answer = bot.server.calls("answerCallbackQuery")[-1].params
    assert answer["text"].startswith("Эта запись недоступна")
    booking.refresh_from_db()
    assert booking.status != BookingStatus.CANCELLED


def test_keeping_the_consent_changes_nothing(bot, shop):
    client = linked_client(bot)
    bot.text(USER, "/withdraw")
    bot.press(USER, "Оставить")
    assert bot.last_text(USER).startswith("Хорошо, согласие остаётся в силе.")
    assert Consent.objects.get(telegram_user_id=USER).withdrawn_at is None
    client.refresh_from_db()
    assert client.telegram_user_id == USER
    bot.press_data(USER, f"s:{BotSession.objects.get(pk=USER).step - 1}:yes")
    assert Consent.objects.get(telegram_user_id=USER).withdrawn_at is None, "the old question's button is stale"


def test_someone_without_a_consent_has_nothing_to_withdraw(bot, shop):
    other = ClientFactory(name="Чужой", phone="+79160000001", telegram_user_id=9999)
    bot.text(STRANGER, "/withdraw")
    assert bot.last_text(STRANGER).startswith("Действующего согласия на обработку персональных данных у меня нет")
    other.refresh_from_db()
    assert other.telegram_user_id == 9999
