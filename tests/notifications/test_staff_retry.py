"""«Отправить ещё раз» gives a failed message a fresh ``MAX_AGE``, however old the message is."""

from datetime import timedelta

import pytest

from bookings.models import Notification, NotificationState
from bookings.notifications.dispatch import (
    MAX_AGE,
    MAX_AGE_ERROR,
    notification_send,
    notifications_retry,
)
from bookings.notifications.scheduled import outbox_sweep

GRACE = timedelta(seconds=120)


@pytest.fixture
def failed_4_days_ago(booking, smtp, settings):
    """The managers' e-mail, failed for good after four days of an SMTP outage; the server is still down."""
    settings.EMAIL_PORT = 1
    row = Notification.objects.get(booking=booking, channel="email", template_key="manager_new_booking")
    assert notification_send(row.pk, now=row.created_at + timedelta(days=4)) == NotificationState.FAILED
    row.refresh_from_db()
    assert row.last_error.startswith(MAX_AGE_ERROR)
    return row


def test_a_retried_old_message_survives_one_more_temporary_failure(failed_4_days_ago):
    row, now = failed_4_days_ago, failed_4_days_ago.created_at + timedelta(days=5)
    assert notifications_retry([row.pk], now=now) == (1, 0)
    row.refresh_from_db()
    assert row.give_up_at == now + MAX_AGE and row.last_error == ""

    assert notification_send(row.pk, now=now) == NotificationState.PENDING
    row.refresh_from_db()
    assert row.next_attempt_at == now + timedelta(seconds=30)
    assert row.last_error.startswith("Почтовый сервер недоступен")


def test_the_sweep_right_after_a_retry_queues_the_old_message_instead_of_failing_it(failed_4_days_ago):
    row, now = failed_4_days_ago, failed_4_days_ago.created_at + timedelta(days=5)
    notifications_retry([row.pk], now=now)
    assert row.pk in outbox_sweep(now=now + GRACE + timedelta(seconds=1), grace=GRACE)
    row.refresh_from_db()
    assert row.state == NotificationState.PENDING and row.last_error == ""


def test_a_retried_message_fails_again_only_after_its_new_max_age_and_says_so_once(failed_4_days_ago):
    row, now = failed_4_days_ago, failed_4_days_ago.created_at + timedelta(days=5)
    notifications_retry([row.pk], now=now)
    assert notification_send(row.pk, now=now) == NotificationState.PENDING

    assert outbox_sweep(now=now + MAX_AGE, grace=GRACE) == []
    row.refresh_from_db()
    assert row.state == NotificationState.FAILED
    assert row.last_error.startswith(f"{MAX_AGE_ERROR} Почтовый сервер недоступен")
    assert row.last_error.count(MAX_AGE_ERROR) == 1


def test_the_reason_names_the_days_of_max_age():
    assert MAX_AGE_ERROR == "Не отправлено за 3 дня — сообщение устарело."
