"""The bot's notification handlers, driven through a real PTB Application against the local Bot API server."""

import asyncio
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone
from telegram import Update
from telegram.ext import Application

from bookings.models import Booking, BookingHistory, BookingStatus, Notification
from bookings.notifications.dispatch import notification_send
from bookings.notifications.scheduled import scan_reminders
from bookings.services import booking_reschedule, booking_transition
from botapp.notify_handlers import handlers
from clients.models import Consent, ConsentPurpose
from tests.factories import MembershipFactory, UserFactory, WorkshopFactory
from tests.notifications.conftest import CLIENT_TG, MANAGERS_CHAT
from workshops.models import StaffRole, StaffTelegramLink
from workshops.staff_telegram import staff_telegram_code_issue

# The handlers reach the database from PTB's worker thread, so the data must be committed.
pytestmark = pytest.mark.django_db(transaction=True)

OLGA_TG, STRANGER_TG = 7001, 7002


def run_updates(server, *updates: dict) -> None:
    """Feed updates to a minimal Application holding only our handlers; re-raise any handler error."""

    async def go():
        app = Application.builder().token(server.token).base_url(server.base_url).build()
        app.add_handlers(handlers())
        errors = []

        async def collect(update, context):
            errors.append(context.error)

        app.add_error_handler(collect)
        async with app:
            for data in updates:
                await app.process_update(Update.de_json(data, app.bot))
        if errors:
            raise errors[0]

    asyncio.run(go())


def alert(server) -> str:
    [answer] = server.calls("answerCallbackQuery")
    return answer.params.get("text", "") if answer.params.get("show_alert") in (True, "true", "True") else ""


@pytest.fixture
def olga(branch):
    user = UserFactory(username="olga", first_name="Ольга", last_name="Смирнова")
    user.user_permissions.add(Permission.objects.get(codename="change_booking"))
    MembershipFactory(user=user, workshop=branch)
    StaffTelegramLink.objects.create(user=user, telegram_user_id=OLGA_TG, linked_at=timezone.now())
    return user


@pytest.fixture
def managers_message(booking, botapi):
    notification_send(Notification.objects.get(booking=booking, channel="telegram").pk)
    return botapi.last_message(MANAGERS_CHAT)


def test_a_linked_manager_confirms_and_the_message_shows_who_did_it(booking, olga, managers_message, botapi):
    run_updates(botapi, botapi.user_presses(OLGA_TG, f"nt:mgr:confirm:{booking.pk}", managers_message))
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED
    last = booking.history.last()
    assert (last.to_status, last.by_user, last.actor) == ("confirmed", olga, "Telegram, чат менеджеров")
    edited = botapi.last_message(MANAGERS_CHAT)
    assert edited["text"].startswith("🆕 Новая запись")
    assert "✅ Подтвердил(а): Ольга Смирнова" in edited["text"] and "reply_markup" not in edited
    assert Notification.objects.filter(booking=booking, template_key="client_booking_confirmed").exists()


def test_a_linked_manager_cancels(booking, olga, managers_message, botapi):
    run_updates(botapi, botapi.user_presses(OLGA_TG, f"nt:mgr:cancel:{booking.pk}", managers_message))
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED
    assert "❌ Отменил(а): Ольга Смирнова" in botapi.last_message(MANAGERS_CHAT)["text"]


def test_someone_without_a_linked_account_is_refused_and_nothing_changes(booking, olga, managers_message, botapi):
    history = BookingHistory.objects.count()
    run_updates(botapi, botapi.user_presses(STRANGER_TG, f"nt:mgr:confirm:{booking.pk}", managers_message))
    assert "не привязан" in alert(botapi)
    booking.refresh_from_db()
    assert booking.status == BookingStatus.NEW and BookingHistory.objects.count() == history
    assert botapi.last_message(MANAGERS_CHAT) == managers_message
    assert botapi.calls("editMessageText") == []


def test_a_branch_employee_without_the_change_booking_permission_is_refused(booking, managers_message, botapi):
    petr = UserFactory(username="petr", first_name="Пётр")
    petr.user_permissions.add(Permission.objects.get(codename="view_booking"))
    MembershipFactory(user=petr, workshop=booking.workshop, role=StaffRole.STAFF)
    StaffTelegramLink.objects.create(user=petr, telegram_user_id=STRANGER_TG, linked_at=timezone.now())
    history = BookingHistory.objects.count()
    run_updates(botapi, botapi.user_presses(STRANGER_TG, f"nt:mgr:cancel:{booking.pk}", managers_message))
    assert alert(botapi) == "У вас нет права подтверждать и отменять записи. Обратитесь к руководителю филиала."
    booking.refresh_from_db()
    assert booking.status == BookingStatus.NEW and BookingHistory.objects.count() == history
    assert not Notification.objects.filter(booking=booking, template_key="client_booking_cancelled").exists()
    assert botapi.calls("editMessageText") == []


def test_a_manager_of_another_branch_is_refused(booking, managers_message, botapi):
    petr = UserFactory(username="petr")
    petr.user_permissions.add(Permission.objects.get(codename="change_booking"))
    MembershipFactory(user=petr, workshop=WorkshopFactory(name="СТО Север"))
    StaffTelegramLink.objects.create(user=petr, telegram_user_id=STRANGER_TG, linked_at=timezone.now())
    run_updates(botapi, botapi.user_presses(STRANGER_TG, f"nt:mgr:cancel:{booking.pk}", managers_message))
    assert "другого филиала" in alert(botapi)
    booking.refresh_from_db()
    assert booking.status == BookingStatus.NEW


def test_a_press_on_a_booking_already_cancelled_by_the_client_says_so(booking, olga, managers_message, botapi):
    booking_transition(booking=booking, to_status=BookingStatus.CANCELLED, actor="Клиент (Telegram)")
    run_updates(botapi, botapi.user_presses(OLGA_TG, f"nt:mgr:confirm:{booking.pk}", managers_message))
    assert "отменена" in alert(botapi)
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED


def test_a_staff_member_links_telegram_with_the_one_time_code_from_admin(branch, botapi):
    user = UserFactory(username="anna", first_name="Анна")
    code = staff_telegram_code_issue(user=user).code
    run_updates(botapi, botapi.user_sends_text(OLGA_TG, f"/link {code.lower()}"))
    link = StaffTelegramLink.objects.get(user=user)
    assert (link.telegram_user_id, link.code) == (OLGA_TG, None)
    assert "привязан к сотруднику «Анна»" in botapi.last_message(OLGA_TG)["text"]
    run_updates(botapi, botapi.user_sends_text(STRANGER_TG, f"/link {code}"))
    assert "Код не подошёл" in botapi.last_message(STRANGER_TG)["text"]
    assert StaffTelegramLink.objects.get(user=user).telegram_user_id == OLGA_TG


def test_an_expired_code_links_nothing(branch, botapi):
    user = UserFactory()
    code = staff_telegram_code_issue(user=user, now=timezone.now() - timedelta(hours=1)).code
    run_updates(botapi, botapi.user_sends_text(OLGA_TG, f"/link {code}"))
    assert "Код не подошёл" in botapi.last_message(OLGA_TG)["text"]
    assert StaffTelegramLink.objects.get(user=user).telegram_user_id is None


@pytest.fixture
def reminder_message(booking, botapi):
    if booking.starts_at - booking.created_at < timedelta(hours=30):
        booking = booking_reschedule(booking=booking, starts_at=booking.starts_at + timedelta(days=7))
    moment = booking.starts_at - timedelta(hours=23)
    [row] = scan_reminders(now=moment)
    notification_send(row, now=moment)
    return booking, botapi.last_message(CLIENT_TG)


def test_the_client_presses_i_will_come_and_the_booking_is_confirmed(reminder_message, botapi):
    booking, message = reminder_message
    run_updates(botapi, botapi.user_presses(CLIENT_TG, f"nt:come:{booking.pk}", message))
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED and booking.history.last().actor == "Клиент (Telegram)"
    edited = botapi.last_message(CLIENT_TG)
    assert edited["text"].endswith("👍 Вы подтвердили визит. Ждём вас!")
    assert [b["callback_data"] for b in edited["reply_markup"]["inline_keyboard"][0]] == [
        f"bk:cancel:{booking.pk}", f"bk:resched:{booking.pk}",
    ]
    assert Notification.objects.filter(booking=booking, template_key="manager_booking_changed").exists()


def test_someone_else_pressing_i_will_come_is_refused(reminder_message, botapi):
    booking, message = reminder_message
    run_updates(botapi, botapi.user_presses(STRANGER_TG, f"nt:come:{booking.pk}", message))
    assert alert(botapi) == "Это не ваша запись."
    booking.refresh_from_db()
    assert booking.status == BookingStatus.NEW


def test_i_will_come_pressed_after_the_visit_time_is_refused(reminder_message, botapi):
    booking, message = reminder_message
    past = timezone.now() - timedelta(days=1)
    Booking.objects.filter(pk=booking.pk).update(starts_at=past, ends_at=past + timedelta(hours=1))
    history = booking.history.count()
    run_updates(botapi, botapi.user_presses(CLIENT_TG, f"nt:come:{booking.pk}", message))
    assert alert(botapi).startswith("Время визита уже наступило")
    booking.refresh_from_db()
    assert booking.status == BookingStatus.NEW and booking.history.count() == history
    assert "Вы подтвердили визит" not in botapi.last_message(CLIENT_TG)["text"]


@pytest.mark.parametrize("status", [BookingStatus.NO_SHOW, BookingStatus.COMPLETED, BookingStatus.CANCELLED])
def test_i_will_come_on_a_closed_booking_names_its_status_in_plain_russian(reminder_message, botapi, status):
    booking, message = reminder_message
    Booking.objects.filter(pk=booking.pk).update(status=status)
    run_updates(botapi, botapi.user_presses(CLIENT_TG, f"nt:come:{booking.pk}", message))
    assert alert(botapi) == f"С этой записью уже ничего не сделать: её статус — «{status.label}»."
    booking.refresh_from_db()
    assert booking.status == status


def test_the_client_rates_the_visit_and_admin_has_the_rating(booking, botapi):
    staff = UserFactory()
    booking_transition(booking=booking, to_status=BookingStatus.CONFIRMED, by_user=staff)
    booking_transition(booking=booking, to_status=BookingStatus.COMPLETED, by_user=staff, now=booking.ends_at)
    notification_send(Notification.objects.get(booking=booking, template_key="client_thanks").pk)
    message = botapi.last_message(CLIENT_TG)
    run_updates(botapi, botapi.user_presses(STRANGER_TG, f"nt:rate:{booking.pk}:1", message))
    booking.refresh_from_db()
    assert booking.rating is None
    run_updates(botapi, botapi.user_presses(CLIENT_TG, f"nt:rate:{booking.pk}:4", message))
    booking.refresh_from_db()
    assert booking.rating == 4 and booking.rated_at is not None
    assert botapi.last_message(CLIENT_TG)["text"].endswith("Ваша оценка: ★★★★☆ — спасибо!")


def test_the_client_gives_a_separate_marketing_consent_from_the_thank_you_message(booking, botapi):
    staff = UserFactory()
    booking_transition(booking=booking, to_status=BookingStatus.CONFIRMED, by_user=staff)
    booking_transition(booking=booking, to_status=BookingStatus.COMPLETED, by_user=staff, now=booking.ends_at)
    notification_send(Notification.objects.get(booking=booking, template_key="client_thanks").pk)
    thanks = botapi.last_message(CLIENT_TG)
    assert thanks["reply_markup"]["inline_keyboard"][1] == [
        {"text": "🔔 Напоминать о плановом ТО", "callback_data": "nt:ads:ask"}
    ]
    run_updates(botapi, botapi.user_presses(CLIENT_TG, "nt:ads:ask", thanks))
    offer = botapi.last_message(CLIENT_TG)
    assert offer["text"].startswith("Согласие на сервисные и рекламные рассылки (версия 1)")
    assert not Consent.objects.filter(purpose=ConsentPurpose.MARKETING).exists(), "showing is not agreeing"
    run_updates(botapi, botapi.user_presses(CLIENT_TG, "nt:ads:yes:1", offer))
    consent = Consent.objects.get(purpose=ConsentPurpose.MARKETING)
    assert (consent.client, consent.telegram_user_id, consent.message_id) == (booking.client, CLIENT_TG,
                                                                             offer["message_id"])
    assert consent.text == offer["text"] and consent.withdrawn_at is None
    assert botapi.last_message(CLIENT_TG)["text"].endswith("✅ Согласие получено. Отозвать: /stop_ads")


def test_agreeing_under_an_outdated_consent_text_records_nothing(tg_client, botapi):
    run_updates(botapi, botapi.user_sends_text(CLIENT_TG, "/ads"))
    run_updates(botapi, botapi.user_presses(CLIENT_TG, "nt:ads:yes:0", botapi.last_message(CLIENT_TG)))
    assert "обновился" in alert(botapi)
    assert not Consent.objects.exists()


def test_stop_ads_withdraws_marketing_consent_at_once(tg_client, botapi):
    consent = Consent.objects.create(
        client=tg_client, telegram_user_id=CLIENT_TG, purpose=ConsentPurpose.MARKETING, text_version="1",
        text_hash="0" * 64, text="Согласен на рассылки.", channel="telegram",
    )
    run_updates(botapi, botapi.user_sends_text(CLIENT_TG, "/stop_ads"))
    consent.refresh_from_db()
    assert consent.withdrawn_at is not None
    assert botapi.last_message(CLIENT_TG)["text"].startswith("Готово: рекламные и сервисные рассылки отключены.")


def test_chatid_tells_the_chat_its_id(botapi, db):
    run_updates(botapi, botapi.user_sends_text(4242, "/chatid"))
    assert botapi.last_message(4242)["text"].startswith("ID этого чата: 4242")
