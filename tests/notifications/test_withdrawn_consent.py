"""A client who withdrew their personal-data consent (/withdraw) gets no messages on any channel;
the ones a booking change would have sent are written skipped, with the reason, for staff to see."""

from datetime import timedelta

import pytest

from bookings.models import BookingStatus, Notification, NotificationState
from bookings.notifications.dispatch import notification_send
from bookings.notifications.scheduled import scan_reminders
from bookings.services import booking_transition
from clients.consents import consent_record, consent_withdraw_telegram
from clients.models import ConsentPurpose
from tests.factories import ClientFactory, UserFactory
from tests.notifications.conftest import CLIENT_TG


def agree(client, telegram_user_id=CLIENT_TG):
    """The client agreed to personal-data processing in the bot, as /start records it."""
    return consent_record(purpose=ConsentPurpose.PERSONAL_DATA, text_version="1", text="Согласие на обработку ПДн",
                          channel="telegram", telegram_user_id=telegram_user_id, client_id=client.pk)


@pytest.fixture
def booking(booking):
    """The booking of a client with an e-mail too, made three days ahead so reminders are due."""
    booking.client.email = "ivan@mail.test"
    booking.client.save()
    booking.created_at -= timedelta(days=3)
    booking.save(update_fields=["created_at"])
    agree(booking.client)
    return booking


def client_rows(booking):
    return Notification.objects.filter(booking=booking, recipient_kind="client")


def test_a_client_who_withdrew_gets_no_reminder_by_e_mail(booking, smtp):
    consent_withdraw_telegram(telegram_user_id=CLIENT_TG)
    assert scan_reminders(now=booking.starts_at - timedelta(hours=23)) == []
    assert not client_rows(booking).exists() and smtp.messages == []


def test_a_client_who_withdrew_is_not_told_of_status_changes_and_staff_see_why(
    booking, smtp, botapi, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr("bookings.notifications.events.queue_send", queued.extend)
    consent_withdraw_telegram(telegram_user_id=CLIENT_TG)
    with django_capture_on_commit_callbacks(execute=True):
        booking_transition(booking=booking, to_status=BookingStatus.CONFIRMED, by_user=UserFactory())
    [confirmed] = client_rows(booking)
    assert confirmed.template_key == "client_booking_confirmed" and confirmed.state == NotificationState.SKIPPED
    assert confirmed.last_error == (
        "Клиент отозвал согласие на обработку персональных данных: сообщения ему не отправляются."
    )
    assert queued == []
    assert notification_send(confirmed.pk) == ""  # not pending: nobody can claim it
    assert botapi.sent_to(CLIENT_TG) == [] and smtp.messages == []


def test_a_message_written_before_the_withdrawal_is_skipped(booking, smtp, botapi):
    booking_transition(booking=booking, to_status=BookingStatus.CONFIRMED, by_user=UserFactory())
    [confirmed] = client_rows(booking)
    consent_withdraw_telegram(telegram_user_id=CLIENT_TG)
    assert notification_send(confirmed.pk) == NotificationState.SKIPPED
    confirmed.refresh_from_db()
    assert confirmed.last_error == (
        "Клиент отозвал согласие на обработку персональных данных: сообщения ему не отправляются."
    )
    assert botapi.sent_to(CLIENT_TG) == [] and smtp.messages == []


def test_a_client_who_agreed_again_gets_messages_again(booking, smtp):
    consent_withdraw_telegram(telegram_user_id=CLIENT_TG)
    agree(booking.client)
    [reminder] = Notification.objects.filter(pk__in=scan_reminders(now=booking.starts_at - timedelta(hours=23)))
    assert reminder.channel == "email"
    assert notification_send(reminder.pk, now=booking.starts_at - timedelta(hours=23)) == NotificationState.SENT
    assert [to for to, _ in smtp.messages] == [["ivan@mail.test"]]


def test_a_client_entered_by_staff_without_any_consent_still_gets_reminders(booking, smtp):
    booking.client.consents.all().delete()  # taken by phone: no consent was ever recorded
    [reminder] = Notification.objects.filter(pk__in=scan_reminders(now=booking.starts_at - timedelta(hours=23)))
    assert reminder.channel == "telegram"
    booking_transition(booking=booking, to_status=BookingStatus.CONFIRMED, by_user=UserFactory())
    assert client_rows(booking).filter(template_key="client_booking_confirmed").exists()


def test_another_clients_withdrawal_changes_nothing_for_this_one(booking, smtp):
    other = ClientFactory(telegram_user_id=7777)
    agree(other, telegram_user_id=7777)
    consent_withdraw_telegram(telegram_user_id=7777)
    assert len(scan_reminders(now=booking.starts_at - timedelta(hours=23))) == 1
