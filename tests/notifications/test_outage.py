"""A long Telegram or SMTP outage delays messages but loses none (DESIGN §3); only a message too old to be of use fails."""

from datetime import timedelta

from bookings.models import Notification, NotificationState
from bookings.notifications.dispatch import notification_send
from bookings.notifications.scheduled import outbox_sweep

GRACE = timedelta(seconds=120)


def email_row(booking):
    return Notification.objects.get(booking=booking, channel="email", template_key="manager_new_booking")


def test_a_five_hour_smtp_outage_delays_the_managers_e_mail_and_the_sweep_sends_it_after(booking, smtp, settings):
    settings.EMAIL_PORT = 1  # the SMTP server is down: connection refused
    row = email_row(booking)
    now = row.created_at
    while now - row.created_at < timedelta(hours=5):
        assert notification_send(row.pk, now=now) == NotificationState.PENDING
        row.refresh_from_db()
        now = row.next_attempt_at + GRACE + timedelta(seconds=1)  # the next sweep after the retry is due
    assert row.attempts == 9 and row.last_error.startswith("Почтовый сервер недоступен")
    assert row.next_attempt_at - row.queued_at == timedelta(0), "hourly retries are left to the sweep"

    settings.EMAIL_PORT = smtp.port  # back
    assert row.pk in outbox_sweep(now=now, grace=GRACE)
    assert notification_send(row.pk, now=now) == NotificationState.SENT
    [(recipients, _)] = smtp.messages
    assert recipients == ["olga@sto.test", "desk@sto.test"]


def test_a_refused_address_still_fails_at_once(booking, smtp):
    smtp.refuse = {"olga@sto.test", "desk@sto.test"}
    row = email_row(booking)
    assert notification_send(row.pk) == NotificationState.FAILED
    row.refresh_from_db()
    assert row.attempts == 1 and row.last_error.startswith("Адрес отклонён сервером")


def test_the_sweep_gives_up_on_a_message_three_days_old_and_says_why(booking, smtp, settings):
    settings.EMAIL_PORT = 1
    row = email_row(booking)
    assert notification_send(row.pk) == NotificationState.PENDING
    later = row.created_at + timedelta(days=3)
    assert outbox_sweep(now=later, grace=GRACE) == []  # nor the managers' Telegram row, as old
    row.refresh_from_db()
    assert row.state == NotificationState.FAILED and row.claimed_at is None
    assert row.last_error.startswith("Не отправлено за 3 дня — сообщение устарело. Почтовый сервер недоступен")
    assert notification_send(row.pk, now=later) == ""


def test_the_sweep_keeps_a_message_younger_than_three_days(booking):
    row = email_row(booking)
    assert row.pk in outbox_sweep(now=row.created_at + timedelta(days=2, hours=23), grace=GRACE)
    row.refresh_from_db()
    assert row.state == NotificationState.PENDING
