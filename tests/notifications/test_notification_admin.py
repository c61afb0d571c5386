"""Admin: notifications with state and error, scoped to the staff member's branches; Telegram link codes."""

from datetime import UTC

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from bookings.models import Notification, NotificationState
from tests.factories import MembershipFactory, UserFactory, WorkshopFactory
from tests.notifications.conftest import CLIENT_TG
from workshops.models import StaffTelegramLink


def staff_of(workshop, *perms):
    user = UserFactory()
    MembershipFactory(user=user, workshop=workshop)
    user.user_permissions.add(*Permission.objects.filter(codename__in=perms))
    return user


@pytest.fixture
def failed_reminder(booking):
    return Notification.objects.create(
        booking=booking, workshop=booking.workshop, recipient_kind="client", client=booking.client,
        channel="telegram", template_key="client_reminder", state=NotificationState.FAILED, attempts=1,
        payload={"hours": 24, "starts_at": booking.starts_at.astimezone(UTC).isoformat()},  # as scan_reminders writes it
        last_error="Telegram 403: Forbidden: bot was blocked by the user",
    )


def test_staff_see_their_branchs_notifications_with_state_and_error(client, booking, failed_reminder):
    client.force_login(staff_of(booking.workshop, "view_notification"))
    page = client.get(reverse("admin:bookings_notification_changelist")).content.decode()
    assert "клиенту: напоминание" in page and "менеджерам: новая запись" in page
    assert "bot was blocked by the user" in page and "не доставлено" in page


def test_staff_of_another_branch_see_nothing_of_it(client, booking, failed_reminder):
    other = WorkshopFactory(name="СТО Север")
    client.force_login(staff_of(other, "view_notification"))
    page = client.get(reverse("admin:bookings_notification_changelist")).content.decode()
    assert "bot was blocked" not in page and "Иван Петров" not in page and "СТО Центр" not in page
    detail = client.get(reverse("admin:bookings_notification_change", args=[failed_reminder.pk]))
    assert detail.status_code in (302, 404)


def test_notifications_cannot_be_added_or_edited_in_admin(client, booking, failed_reminder):
    client.force_login(UserFactory(is_superuser=True))
    assert client.get(reverse("admin:bookings_notification_add")).status_code == 403
    page = client.get(reverse("admin:bookings_notification_change", args=[failed_reminder.pk])).content.decode()
    assert 'name="_save"' not in page


def test_the_booking_page_shows_the_reminder_that_was_not_delivered(client, booking, failed_reminder):
    client.force_login(staff_of(booking.workshop, "view_booking"))
    page = client.get(reverse("admin:bookings_booking_change", args=[booking.pk])).content.decode()
    assert "⚠ не доставлено" in page and "bot was blocked by the user" in page


def test_staff_can_send_failed_notifications_again(client, booking, failed_reminder):
    client.force_login(staff_of(booking.workshop, "view_notification"))
    client.post(reverse("admin:bookings_notification_changelist"),
                {"action": "retry", "_selected_action": [failed_reminder.pk]})
    failed_reminder.refresh_from_db()
    assert (failed_reminder.state, failed_reminder.attempts) == (NotificationState.PENDING, 0)


def test_a_retry_not_needed_any_more_points_staff_to_the_reason(client, booking, failed_reminder):
    booking.status = "cancelled"
    booking.save(update_fields=["status"])
    client.force_login(staff_of(booking.workshop, "view_notification"))
    page = client.post(reverse("admin:bookings_notification_changelist"),
                       {"action": "retry", "_selected_action": [failed_reminder.pk]}, follow=True).content.decode()
    assert "Поставлено в очередь: 0. Уже не нужны и не отправлены: 1 — причина в колонке «ошибка»." in page
    failed_reminder.refresh_from_db()
    assert (failed_reminder.state, failed_reminder.last_error) == (NotificationState.SKIPPED, "Запись отменена или завершена.")


def test_staff_of_another_branch_cannot_send_its_notifications_again(client, booking, failed_reminder):
    client.force_login(staff_of(WorkshopFactory(), "view_notification"))
    client.post(reverse("admin:bookings_notification_changelist"),
                {"action": "retry", "_selected_action": [failed_reminder.pk]})
    failed_reminder.refresh_from_db()
    assert failed_reminder.state == NotificationState.FAILED


def test_a_staff_member_gets_a_one_time_code_and_sees_only_their_own_link(client, branch):
    anna = staff_of(branch)
    StaffTelegramLink.objects.create(user=UserFactory(username="boris"), telegram_user_id=CLIENT_TG)
    client.force_login(anna)
    response = client.get(reverse("admin:workshops_stafftelegramlink_issue_code"), follow=True)
    code = StaffTelegramLink.objects.get(user=anna).code
    page = response.content.decode()
    assert f"/link {code}" in page
    assert "boris" not in page
