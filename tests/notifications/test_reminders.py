"""Reminders 24 h and 2 h before (per branch), found by a scan, written once, re-checked when sent."""

import threading
import zoneinfo
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from bookings.models import BookingStatus, Notification, NotificationState
from bookings.notifications.dispatch import notification_send
from bookings.notifications.scheduled import scan_reminders
from bookings.services import booking_create, booking_reschedule, booking_transition
from tests.conftest import next_weekday
from tests.factories import BayFactory, ClientFactory, UserFactory, WorkshopFactory
from tests.notifications.conftest import CLIENT_TG, MSK


@pytest.fixture
def visit(booking):
    """The booking, made more than a day ahead (``booking`` is at least a day away)."""
    if booking.starts_at - booking.created_at < timedelta(hours=30):
        booking = booking_reschedule(booking=booking, starts_at=booking.starts_at + timedelta(days=7))
    return booking


def reminders(booking):
    return list(Notification.objects.filter(booking=booking, template_key="client_reminder").order_by("id"))


def test_the_client_is_reminded_24_hours_and_2_hours_before(visit):
    assert scan_reminders(now=visit.starts_at - timedelta(hours=25)) == []
    scan_reminders(now=visit.starts_at - timedelta(hours=23))
    scan_reminders(now=visit.starts_at - timedelta(hours=1, minutes=59))
    assert [(r.payload["hours"], r.client_id, r.channel) for r in reminders(visit)] == [
        (24, visit.client_id, "telegram"), (2, visit.client_id, "telegram"),
    ]


def test_scanning_again_or_in_two_processes_at_once_writes_each_reminder_once(transactional_db, visit):
    moment = visit.starts_at - timedelta(hours=20)
    barrier = threading.Barrier(4)

    def scan():
        try:
            barrier.wait()
            scan_reminders(now=moment)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=scan) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert scan_reminders(now=moment + timedelta(minutes=1)) == []
    assert len(reminders(visit)) == 1


def test_a_booking_made_less_than_a_day_ahead_gets_only_the_2_hour_reminder(branch, lift, oil_change, tg_client):
    starts = next_weekday(2, MSK, 10)
    booking = booking_create(workshop=branch, service=oil_change, client=tg_client, starts_at=starts, channel="web")
    booking.created_at = starts - timedelta(hours=20)
    booking.save(update_fields=["created_at"])
    scan_reminders(now=starts - timedelta(hours=19))
    scan_reminders(now=starts - timedelta(hours=1))
    assert [r.payload["hours"] for r in reminders(booking)] == [2]


def test_each_branch_sets_its_own_reminder_hours_or_none(visit):
    branch = visit.workshop
    branch.reminder_offsets_hours = "48, 3"
    branch.save()
    scan_reminders(now=visit.starts_at - timedelta(hours=47))
    scan_reminders(now=visit.starts_at - timedelta(hours=23))
    assert [r.payload["hours"] for r in reminders(visit)] == [48]
    branch.reminder_offsets_hours = ""
    branch.save()
    scan_reminders(now=visit.starts_at - timedelta(hours=2))
    assert len(reminders(visit)) == 1


def test_the_reminder_shows_the_branchs_local_time_and_the_three_buttons(botapi, oil_change):
    yekaterinburg = zoneinfo.ZoneInfo("Asia/Yekaterinburg")
    branch = WorkshopFactory(name="СТО Урал", timezone="Asia/Yekaterinburg", horizon_days=30)
    BayFactory(workshop=branch)
    oil_change.workshops.add(branch)
    client = ClientFactory(telegram_user_id=CLIENT_TG, phone="+79120000009")
    booking = booking_create(workshop=branch, service=oil_change, client=client,
                             starts_at=next_weekday(2, yekaterinburg, 9, weeks=1), channel="telegram")
    [row] = Notification.objects.filter(pk__in=scan_reminders(now=booking.starts_at - timedelta(hours=2)))
    assert notification_send(row.pk, now=booking.starts_at - timedelta(hours=2)) == NotificationState.SENT
    [message] = botapi.sent_to(CLIENT_TG)
    assert message["text"].startswith("⏰ Напоминаем: вы записаны сегодня в 09:00\nСТО Урал")
    assert message["reply_markup"]["inline_keyboard"] == [
        [{"text": "👍 Приеду", "callback_data": f"nt:come:{booking.pk}"}],
        [{"text": "Отменить", "callback_data": f"bk:cancel:{booking.pk}"},
         {"text": "Перенести", "callback_data": f"bk:resched:{booking.pk}"}],
    ]


def test_a_reminder_for_a_booking_moved_or_cancelled_since_is_not_sent(visit, botapi):
    [row] = Notification.objects.filter(pk__in=scan_reminders(now=visit.starts_at - timedelta(hours=23)))
    moved = booking_reschedule(booking=visit, starts_at=visit.starts_at + timedelta(hours=1), actor="Клиент (Telegram)")
    assert notification_send(row.pk, now=moved.starts_at - timedelta(hours=23)) == NotificationState.SKIPPED
    row.refresh_from_db()
    assert row.last_error.startswith("Запись перенесена")
    [fresh] = Notification.objects.filter(pk__in=scan_reminders(now=moved.starts_at - timedelta(hours=23)))
    booking_transition(booking=moved, to_status=BookingStatus.CANCELLED, actor="Клиент (Telegram)")
    fresh.refresh_from_db()
    assert fresh.state == NotificationState.SKIPPED
    assert botapi.sent_to(CLIENT_TG) == []


def test_a_client_who_blocked_the_bot_gets_a_failed_reminder_without_a_call_to_telegram(visit, botapi):
    client = visit.client
    client.telegram_blocked_at = timezone.now()
    client.save()
    [row] = Notification.objects.filter(pk__in=scan_reminders(now=visit.starts_at - timedelta(hours=23)))
    assert notification_send(row.pk, now=visit.starts_at - timedelta(hours=23)) == NotificationState.FAILED
    assert botapi.calls("sendMessage") == []


def test_staff_marking_the_visit_done_sends_thanks_with_a_1_to_5_rating(visit, botapi):
    staff = UserFactory()
    booking_transition(booking=visit, to_status=BookingStatus.CONFIRMED, by_user=staff)
    booking_transition(booking=visit, to_status=BookingStatus.COMPLETED, by_user=staff, now=visit.ends_at)
    thanks = Notification.objects.get(booking=visit, template_key="client_thanks")
    assert notification_send(thanks.pk) == NotificationState.SENT
    message = botapi.last_message(CLIENT_TG)
    assert message["text"].startswith("Спасибо, что приехали в СТО Центр!")
    assert [b["callback_data"] for b in message["reply_markup"]["inline_keyboard"][0]] == [
        f"nt:rate:{visit.pk}:{n}" for n in range(1, 6)
    ]
