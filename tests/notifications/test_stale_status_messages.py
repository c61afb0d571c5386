"""A client's status message whose first attempt failed is sent later only if it still describes the booking."""

from datetime import timedelta

from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from bookings.models import BookingStatus, Notification, NotificationState
from bookings.notifications.dispatch import notification_send
from bookings.services import booking_reschedule, booking_transition
from tests.factories import MembershipFactory, UserFactory
from tests.notifications.conftest import CLIENT_TG, MSK

LATER = timedelta(seconds=31)  # past the first retry's 30 s backoff


def client_row(booking, template_key):
    return Notification.objects.filter(booking=booking, template_key=template_key).latest("id")


def first_lines(botapi):
    return [message["text"].splitlines()[0] for message in botapi.sent_to(CLIENT_TG)]


def fail_once_for_client(botapi):
    botapi.fail_next("sendMessage", chat_id=CLIENT_TG, error_code=502, description="Bad Gateway", retry_after=None)


def test_a_confirmation_retried_after_the_cancellation_is_skipped(booking, botapi):
    staff = UserFactory()
    booking_transition(booking=booking, to_status=BookingStatus.CONFIRMED, by_user=staff)
    confirmed = client_row(booking, "client_booking_confirmed")
    fail_once_for_client(botapi)
    assert notification_send(confirmed.pk) == NotificationState.PENDING
    booking_transition(booking=booking, to_status=BookingStatus.CANCELLED, by_user=staff, reason="Мастер заболел")
    assert notification_send(client_row(booking, "client_booking_cancelled").pk) == NotificationState.SENT

    assert notification_send(confirmed.pk, now=timezone.now() + LATER) == NotificationState.SKIPPED
    confirmed.refresh_from_db()
    assert confirmed.last_error == "Сообщение устарело: запись уже не подтверждена (статус — «отменена»)."
    assert first_lines(botapi) == ["❌ Ваша запись отменена"]


def test_a_confirmation_still_true_is_sent_on_retry(booking, botapi):
    booking_transition(booking=booking, to_status=BookingStatus.CONFIRMED, by_user=UserFactory())
    confirmed = client_row(booking, "client_booking_confirmed")
    fail_once_for_client(botapi)
    assert notification_send(confirmed.pk) == NotificationState.PENDING
    assert notification_send(confirmed.pk, now=timezone.now() + LATER) == NotificationState.SENT
    assert first_lines(botapi) == ["✅ Ваша запись подтверждена"]


def test_of_two_quick_reschedules_the_client_hears_only_the_latest_time(booking, botapi):
    staff = UserFactory()
    a, b, c = booking.starts_at, booking.starts_at + timedelta(hours=2), booking.starts_at + timedelta(hours=4)
    booking_reschedule(booking=booking, starts_at=b, by_user=staff)
    to_b = client_row(booking, "client_booking_rescheduled")
    fail_once_for_client(botapi)
    assert notification_send(to_b.pk) == NotificationState.PENDING
    booking_reschedule(booking=booking, starts_at=c, by_user=staff)
    to_c = client_row(booking, "client_booking_rescheduled")
    assert notification_send(to_c.pk) == NotificationState.SENT

    assert notification_send(to_b.pk, now=timezone.now() + LATER) == NotificationState.SKIPPED
    to_b.refresh_from_db()
    assert to_b.last_error == "Сообщение устарело: запись с тех пор перенесена ещё раз."
    [message] = botapi.sent_to(CLIENT_TG)
    assert f"Стало: {c.astimezone(MSK):%d.%m.%Y}" in message["text"] and f"{c.astimezone(MSK):%H:%M}" in message["text"]
    # The client never heard of b: «Было» is the time the booking was made for.
    [was] = [line for line in message["text"].splitlines() if line.startswith("Было:")]
    assert was.startswith(f"Было: {a.astimezone(MSK):%d.%m.%Y}") and was.endswith(f"в {a.astimezone(MSK):%H:%M}")


def test_a_reschedule_after_one_that_was_sent_says_it_was_the_time_the_client_heard_of(booking, botapi):
    staff = UserFactory()
    b, c = booking.starts_at + timedelta(hours=2), booking.starts_at + timedelta(hours=4)
    booking_reschedule(booking=booking, starts_at=b, by_user=staff)
    assert notification_send(client_row(booking, "client_booking_rescheduled").pk) == NotificationState.SENT
    booking_reschedule(booking=booking, starts_at=c, by_user=staff)
    assert notification_send(client_row(booking, "client_booking_rescheduled").pk) == NotificationState.SENT

    last = botapi.sent_to(CLIENT_TG)[-1]["text"]
    assert f"Было: {b.astimezone(MSK):%d.%m.%Y}" in last and f"в {b.astimezone(MSK):%H:%M}\nСтало" in last


def test_a_reschedule_message_for_a_booking_cancelled_since_is_skipped(booking, botapi):
    staff = UserFactory()
    booking_reschedule(booking=booking, starts_at=booking.starts_at + timedelta(hours=2), by_user=staff)
    moved = client_row(booking, "client_booking_rescheduled")
    booking_transition(booking=booking, to_status=BookingStatus.CANCELLED, by_user=staff)
    assert notification_send(moved.pk) == NotificationState.SKIPPED
    assert botapi.sent_to(CLIENT_TG) == []


def test_staff_cannot_send_again_a_confirmation_for_a_booking_cancelled_since(client, booking, botapi):
    staff = UserFactory()
    booking_transition(booking=booking, to_status=BookingStatus.CONFIRMED, by_user=staff)
    confirmed = client_row(booking, "client_booking_confirmed")
    botapi.block_chat(CLIENT_TG)
    assert notification_send(confirmed.pk) == NotificationState.FAILED
    booking_transition(booking=booking, to_status=BookingStatus.CANCELLED, by_user=staff)
    botapi.state.blocked_chats.discard(CLIENT_TG)
    admin_user = UserFactory()
    MembershipFactory(user=admin_user, workshop=booking.workshop)
    admin_user.user_permissions.add(Permission.objects.get(codename="view_notification"))
    client.force_login(admin_user)

    response = client.post(reverse("admin:bookings_notification_changelist"),
                           {"action": "retry", "_selected_action": [confirmed.pk]}, follow=True)
    confirmed.refresh_from_db()
    assert confirmed.state == NotificationState.SKIPPED
    assert confirmed.last_error.startswith("Сообщение устарело: запись уже не подтверждена")
    page = response.content.decode()
    assert "Поставлено в очередь: 0." in page and "не отправлены: 1" in page
