"""Each booking change writes its outbox rows in its own transaction and queues them after commit."""

import pytest
from django.db import transaction

from bookings.models import (
    BookingStatus,
    Notification,
    NotificationChannel,
    NotificationState,
    RecipientKind,
)
from bookings.notifications.events import notifications_for_event
from bookings.services import (
    booking_create,
    booking_import_visit,
    booking_reschedule,
    booking_transition,
)
from tests.conftest import next_weekday
from tests.factories import ClientFactory, UserFactory
from tests.notifications.conftest import MSK


def rows(**filters):
    return list(Notification.objects.filter(**filters).order_by("id"))


def test_a_new_booking_tells_the_managers_in_telegram_and_by_e_mail(booking):
    new = rows(booking=booking)
    assert [(n.recipient_kind, n.channel, n.template_key) for n in new] == [
        (RecipientKind.MANAGERS, NotificationChannel.TELEGRAM, "manager_new_booking"),
        (RecipientKind.MANAGERS, NotificationChannel.EMAIL, "manager_new_booking"),
    ]
    assert all(n.state == NotificationState.PENDING and n.workshop_id == booking.workshop_id for n in new)


def test_a_new_bookings_rows_are_the_ones_notifications_for_event_writes_for_it(booking):
    """booking_create writes them in the statement that inserts the booking (PostgreSQL): the same rows."""
    history = booking.history.get()
    written = rows(booking=booking)
    again = notifications_for_event(booking, history)
    assert len(again) == len(written) == 2
    times = {"id", "created_at", "next_attempt_at"}
    fields = [f.attname for f in Notification._meta.concrete_fields if f.attname not in times]
    assert [[getattr(n, f) for f in fields] for n in written] == [
        [getattr(n, f) for f in fields] for n in rows(pk__in=[n.pk for n in again])
    ]
    assert all(n.created_at == n.next_attempt_at == booking.created_at for n in written)


def test_the_rows_are_queued_only_after_commit_and_carry_no_names_or_phones(
    branch, lift, oil_change, tg_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        booking = booking_create(
            workshop=branch, service=oil_change, client=tg_client, starts_at=next_weekday(2, MSK, 10), channel="web"
        )
        assert Notification.objects.filter(booking=booking).count() == 2
    assert len(callbacks) == 1, "one callback queues the booking's rows"
    for row in Notification.objects.filter(booking=booking).values():
        flat = repr(row)
        assert "Иван" not in flat and "912" not in flat


def test_a_booking_that_rolls_back_leaves_no_rows_and_queues_nothing(
    branch, lift, oil_change, tg_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            booking_create(
                workshop=branch, service=oil_change, client=tg_client, starts_at=next_weekday(2, MSK, 10),
                channel="web",
            )
            raise RuntimeError("the caller's transaction fails after the booking")
    assert Notification.objects.count() == 0
    assert callbacks == []


def test_a_branch_without_managers_contacts_gets_no_rows(workshop, lift, oil_change, tg_client):
    booking = booking_create(
        workshop=workshop, service=oil_change, client=tg_client, starts_at=next_weekday(2, MSK, 10), channel="web"
    )
    assert rows(booking=booking) == []


def test_staff_confirming_tells_the_client_not_the_managers(booking):
    olga = UserFactory(first_name="Ольга", last_name="Смирнова")
    booking_transition(booking=booking, to_status=BookingStatus.CONFIRMED, by_user=olga)
    [row] = rows(booking=booking, history__to_status=BookingStatus.CONFIRMED)
    assert (row.recipient_kind, row.channel, row.template_key, row.client_id) == (
        RecipientKind.CLIENT, NotificationChannel.TELEGRAM, "client_booking_confirmed", booking.client_id,
    )


def test_a_client_cancelling_in_the_bot_tells_the_managers_not_the_client(booking):
    booking_transition(booking=booking, to_status=BookingStatus.CANCELLED, actor="Клиент (Telegram)")
    changed = rows(booking=booking, template_key="manager_booking_changed")
    assert [(n.recipient_kind, n.channel) for n in changed] == [
        (RecipientKind.MANAGERS, NotificationChannel.TELEGRAM), (RecipientKind.MANAGERS, NotificationChannel.EMAIL),
    ]
    assert not rows(booking=booking, recipient_kind=RecipientKind.CLIENT)


def test_a_reschedule_by_the_client_tells_the_managers_and_one_by_staff_tells_the_client(booking):
    booking_reschedule(booking=booking, starts_at=booking.starts_at.replace(hour=11), actor="Клиент (Telegram)")
    assert len(rows(booking=booking, template_key="manager_booking_changed")) == 2
    booking_reschedule(booking=booking, starts_at=booking.starts_at.replace(hour=15), by_user=UserFactory())
    [row] = rows(booking=booking, template_key="client_booking_rescheduled")
    assert row.history.old_starts_at.astimezone(MSK).hour == 11


def test_a_client_without_telegram_hears_by_e_mail_and_one_without_either_hears_nothing(branch, lift, oil_change):
    manager = UserFactory()
    with_email = ClientFactory(email="petr@example.ru", phone="+79120000001")
    silent = ClientFactory(phone="+79120000002")
    for hour, client in ((10, with_email), (11, silent)):
        booking = booking_create(
            workshop=branch, service=oil_change, client=client, starts_at=next_weekday(2, MSK, hour), channel="phone"
        )
        booking_transition(booking=booking, to_status=BookingStatus.CONFIRMED, by_user=manager)
    assert [(n.client_id, n.channel) for n in rows(recipient_kind=RecipientKind.CLIENT)] == [
        (with_email.pk, NotificationChannel.EMAIL)
    ]


def test_a_completed_visit_thanks_the_client_in_telegram_once(booking):
    booking_transition(booking=booking, to_status=BookingStatus.CONFIRMED, by_user=UserFactory())
    booking_transition(
        booking=booking, to_status=BookingStatus.COMPLETED, by_user=UserFactory(), now=booking.ends_at
    )
    [thanks] = rows(booking=booking, template_key="client_thanks")
    assert (thanks.channel, thanks.dedup_key) == (NotificationChannel.TELEGRAM, f"thanks:{booking.pk}")


def test_a_cancellation_makes_pending_reminders_unneeded(booking):
    reminder = Notification.objects.create(
        booking=booking, workshop=booking.workshop, recipient_kind=RecipientKind.CLIENT, client=booking.client,
        channel=NotificationChannel.TELEGRAM, template_key="client_reminder", dedup_key="reminder:test",
    )
    booking_transition(booking=booking, to_status=BookingStatus.CANCELLED, by_user=UserFactory())
    reminder.refresh_from_db()
    assert reminder.state == NotificationState.SKIPPED and reminder.last_error == "Запись отменена."


def test_imported_visits_notify_nobody(branch, lift, oil_change, tg_client):
    from django.utils import timezone

    booking_import_visit(workshop=branch, client=tg_client, service=oil_change,
                         visited_on=timezone.localdate().replace(day=1))
    assert Notification.objects.count() == 0
