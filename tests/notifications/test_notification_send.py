"""Sending one outbox row through the local Bot API server: claimed once, errors classified."""

import threading
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from bookings.models import BookingStatus, Notification, NotificationState
from bookings.notifications import ratelimit
from bookings.notifications.dispatch import (
    BACKOFF_SECONDS,
    INTERNAL_ERROR_ATTEMPTS,
    MAX_AGE,
    notification_send,
)
from bookings.services import booking_create, booking_import_visit, booking_transition
from tests.conftest import next_weekday
from tests.factories import UserFactory
from tests.notifications.conftest import CLIENT_TG, MANAGERS_CHAT, MSK


def telegram_row(booking, template_key="manager_new_booking"):
    return Notification.objects.get(booking=booking, channel="telegram", template_key=template_key)


def test_managers_get_client_phone_car_service_local_time_comment_and_buttons(booking, botapi):
    row = telegram_row(booking)
    assert notification_send(row.pk) == NotificationState.SENT
    [message] = botapi.sent_to(MANAGERS_CHAT)
    local = booking.starts_at.astimezone(MSK)
    for part in ("Иван Петров", "+7 912 123-45-67", "Kia Rio А123ВС77", "Замена масла",
                 f"{local:%d.%m.%Y} (ср) в 10:00", "Стучит подвеска", "Первый визит", "Telegram"):
        assert part in message["text"], part
    buttons = message["reply_markup"]["inline_keyboard"][0]
    assert [(b["text"], b["callback_data"]) for b in buttons] == [
        ("✅ Подтвердить", f"nt:mgr:confirm:{booking.pk}"), ("❌ Отменить", f"nt:mgr:cancel:{booking.pk}"),
    ]
    row.refresh_from_db()
    assert (row.state, row.attempts, row.external_id, row.claimed_at) == ("sent", 1, str(message["message_id"]), None)
    assert row.sent_at is not None


def test_a_returning_clients_message_counts_past_visits_imported_ones_too(branch, lift, oil_change, tg_client, botapi):
    for days in (400, 200):
        booking_import_visit(workshop=branch, client=tg_client, service=oil_change,
                             visited_on=timezone.localdate() - timedelta(days=days))
    booking = booking_create(workshop=branch, service=oil_change, client=tg_client,
                             starts_at=next_weekday(2, MSK, 10), channel="web")
    notification_send(telegram_row(booking).pk)
    assert "Постоянный клиент: визитов раньше — 2" in botapi.last_message(MANAGERS_CHAT)["text"]


def test_a_message_sent_twice_goes_out_once(booking, botapi):
    row = telegram_row(booking)
    assert notification_send(row.pk) == NotificationState.SENT
    assert notification_send(row.pk) == ""
    assert len(botapi.sent_to(MANAGERS_CHAT)) == 1


@pytest.mark.django_db(transaction=True)
def test_eight_workers_claiming_one_row_at_once_send_it_once(branch, lift, oil_change, tg_client, botapi):
    booking = booking_create(workshop=branch, service=oil_change, client=tg_client,
                             starts_at=next_weekday(2, MSK, 10), channel="web")
    row = telegram_row(booking)
    barrier, results = threading.Barrier(8), []

    def worker():
        try:
            barrier.wait()
            results.append(notification_send(row.pk))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results) == [""] * 7 + ["sent"]
    assert len(botapi.calls("sendMessage")) == 1


def test_a_429_waits_the_retry_after_telegram_asks_and_does_not_count_as_an_attempt(booking, botapi):
    row = telegram_row(booking)
    botapi.fail_next("sendMessage", chat_id=MANAGERS_CHAT, retry_after=2)
    before = timezone.now()
    assert notification_send(row.pk) == NotificationState.PENDING
    row.refresh_from_db()
    assert row.attempts == 0 and row.claimed_at is None and "429" in row.last_error
    assert timedelta(seconds=1.9) <= row.next_attempt_at - before <= timedelta(seconds=3)
    assert notification_send(row.pk) == "", "not due before retry_after has passed"
    # Due by the row's clock; the shared limiter still holds the chat until retry_after has passed.
    assert notification_send(row.pk, now=row.next_attempt_at) == NotificationState.SENT
    refused, sent = botapi.calls("sendMessage")
    assert (refused.status, sent.status) == (429, 200)
    assert sent.at - refused.at >= 2.0
    assert len(botapi.sent_to(MANAGERS_CHAT)) == 1


def test_a_client_who_blocked_the_bot_is_marked_unreachable_and_not_retried(booking, botapi):
    olga = UserFactory()
    booking_transition(booking=booking, to_status=BookingStatus.CONFIRMED, by_user=olga)
    confirmed = telegram_row(booking, "client_booking_confirmed")
    botapi.block_chat(CLIENT_TG)
    assert notification_send(confirmed.pk) == NotificationState.FAILED
    confirmed.refresh_from_db()
    booking.client.refresh_from_db()
    assert (confirmed.attempts, confirmed.state) == (1, "failed")
    assert "blocked" in confirmed.last_error
    assert booking.client.telegram_blocked_at is not None
    assert notification_send(confirmed.pk) == ""

    booking_transition(booking=booking, to_status=BookingStatus.CANCELLED, by_user=olga)
    cancelled = telegram_row(booking, "client_booking_cancelled")
    assert notification_send(cancelled.pk) == NotificationState.FAILED
    cancelled.refresh_from_db()
    assert cancelled.last_error.startswith("Клиент заблокировал бота")
    assert len([c for c in botapi.calls("sendMessage") if c.params["chat_id"] == CLIENT_TG]) == 1


def test_a_chat_that_does_not_exist_fails_for_good(booking, botapi):
    row = telegram_row(booking)
    botapi.fail_next("sendMessage", error_code=400, description="Bad Request: chat not found", retry_after=None)
    assert notification_send(row.pk) == NotificationState.FAILED
    row.refresh_from_db()
    assert row.last_error == "Telegram 400: Bad Request: chat not found"


def test_other_errors_retry_with_growing_delays_capped_at_an_hour(booking, botapi):
    row = telegram_row(booking)
    delays = (*BACKOFF_SECONDS, 3600, 3600)
    botapi.fail_next("sendMessage", error_code=502, description="Bad Gateway", retry_after=None, times=len(delays))
    now = timezone.now()
    for attempt, delay in enumerate(delays, start=1):
        assert notification_send(row.pk, now=now) == NotificationState.PENDING
        row.refresh_from_db()
        assert row.attempts == attempt and row.last_error == "Telegram 502: Bad Gateway"
        assert row.next_attempt_at - now == timedelta(seconds=delay)
        now = row.next_attempt_at
        ratelimit.reset()  # the chat's one-second pause is not what this test is about
    assert notification_send(row.pk, now=now) == NotificationState.SENT
    assert len(botapi.calls("sendMessage")) == len(delays) + 1
    assert len(botapi.sent_to(MANAGERS_CHAT)) == 1


def test_a_temporary_error_three_days_after_the_message_was_written_fails_it_with_the_reason(booking, botapi):
    row = telegram_row(booking)
    botapi.fail_next("sendMessage", error_code=502, description="Bad Gateway", retry_after=None)
    assert notification_send(row.pk, now=row.created_at + MAX_AGE) == NotificationState.FAILED
    row.refresh_from_db()
    assert row.last_error == "Не отправлено за 3 дня — сообщение устарело. Telegram 502: Bad Gateway"


def test_an_error_of_ours_is_retried_a_few_times_then_fails_instead_of_for_three_days(booking, botapi, monkeypatch):
    def broken_template(notification, *, now=None):
        raise KeyError("when")

    monkeypatch.setattr("bookings.notifications.render.render_telegram", broken_template)
    row, now = telegram_row(booking), timezone.now()
    for _ in range(INTERNAL_ERROR_ATTEMPTS - 1):
        assert notification_send(row.pk, now=now) == NotificationState.PENDING
        row.refresh_from_db()
        assert row.last_error == "Внутренняя ошибка: KeyError"
        now = row.next_attempt_at
    assert notification_send(row.pk, now=now) == NotificationState.FAILED
    row.refresh_from_db()
    assert row.attempts == INTERNAL_ERROR_ATTEMPTS
    assert row.last_error == "Внутренняя ошибка: KeyError (после 6 попыток; исправьте и отправьте ещё раз)"
    assert botapi.sent_to(MANAGERS_CHAT) == []


def test_an_unreachable_telegram_is_a_temporary_error_whose_message_hides_the_token(booking, settings):
    settings.TELEGRAM_BOT_TOKEN = "123:SECRET"
    settings.TELEGRAM_API_URL = "http://127.0.0.1:9/bot"
    row = telegram_row(booking)
    assert notification_send(row.pk) == NotificationState.PENDING
    row.refresh_from_db()
    assert row.last_error.startswith("Telegram недоступен") and "SECRET" not in row.last_error


def test_two_messages_to_one_chat_keep_a_second_apart_and_provoke_no_429():
    from tests.botapi import BotApiServer

    with BotApiServer(enforce_limits=True) as server:
        from django.test import override_settings

        from bookings.notifications.transports import telegram_send

        with override_settings(TELEGRAM_BOT_TOKEN=server.token, TELEGRAM_API_URL=server.base_url):
            telegram_send(42, "один")
            telegram_send(42, "два")
        first, second = server.calls("sendMessage")
        assert second.at - first.at >= 1.0
        assert server.rejected_429 == 0 and len(server.sent_to(42)) == 2
