"""E-mail goes through a real SMTP server (aiosmtpd), rendered from subject / text / HTML templates."""

from django.utils import timezone

from bookings.models import BookingStatus, Notification, NotificationState
from bookings.notifications.dispatch import notification_send
from bookings.services import booking_transition
from tests.factories import UserFactory
from tests.notifications.conftest import MSK


def email_row(booking, template_key="manager_new_booking"):
    return Notification.objects.get(booking=booking, channel="email", template_key=template_key)


def test_managers_get_the_new_booking_by_e_mail_with_text_and_html(booking, smtp):
    row = email_row(booking)
    assert notification_send(row.pk) == NotificationState.SENT
    [(recipients, message)] = smtp.messages
    local = booking.starts_at.astimezone(MSK)
    assert recipients == ["olga@sto.test", "desk@sto.test"]
    # Python folds a long encoded Subject onto the next line; the parser keeps the fold's space.
    assert message["Subject"].strip() == f"Новая запись: {local:%d.%m.%Y} (ср) в 10:00, Замена масла — СТО Центр"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    for part in ("Иван Петров", "+7 912 123-45-67", "Kia Rio", "Стучит подвеска"):
        assert part in text and part in html
    row.refresh_from_db()
    assert row.external_id == message["Message-ID"]


def test_names_are_escaped_in_the_html_part_and_left_alone_in_the_text(booking, smtp):
    booking.client.name = 'ООО "Рога & копыта"'
    booking.client.save()
    notification_send(email_row(booking).pk)
    [(_, message)] = smtp.messages
    assert 'ООО "Рога & копыта"' in message.get_body(("plain",)).get_content()
    assert "ООО &quot;Рога &amp; копыта&quot;" in message.get_body(("html",)).get_content()


def test_a_client_without_telegram_is_told_by_e_mail(booking, smtp):
    client = booking.client
    client.telegram_user_id, client.email = None, "ivan@example.ru"
    client.save()
    booking_transition(booking=booking, to_status=BookingStatus.CONFIRMED, by_user=UserFactory())
    row = email_row(booking, "client_booking_confirmed")
    assert notification_send(row.pk) == NotificationState.SENT
    [(recipients, message)] = smtp.messages
    assert recipients == ["ivan@example.ru"]
    assert message["Subject"].strip().startswith("Запись подтверждена")
    assert "Ждём вас!" in message.get_body(("plain",)).get_content()


def test_a_refused_address_fails_for_good(booking, smtp):
    smtp.refuse = {"olga@sto.test", "desk@sto.test"}
    row = email_row(booking)
    assert notification_send(row.pk) == NotificationState.FAILED
    row.refresh_from_db()
    assert "отклонён" in row.last_error and smtp.messages == []


def test_an_smtp_server_that_is_down_means_a_retry_later(booking, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9
    row = email_row(booking)
    assert notification_send(row.pk) == NotificationState.PENDING
    row.refresh_from_db()
    assert row.attempts == 1 and row.next_attempt_at > timezone.now()
    assert row.last_error.startswith("Почтовый сервер недоступен")
