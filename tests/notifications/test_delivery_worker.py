"""End to end through a real Celery worker process and Redis: nothing lost, nothing twice.

booking_create → outbox rows (same transaction) → on_commit → Redis → worker → local Bot
API server and SMTP server. Each test waits for what must arrive, then for a sentinel
message sent after it, so "nothing else arrived" is checked without sleeping.
"""

import time
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from bookings.models import Notification, NotificationState
from bookings.notifications.scheduled import outbox_sweep
from bookings.services import booking_create
from bookings.tasks import send_notification
from tests.conftest import next_weekday
from tests.factories import BayFactory, ClientFactory, ServiceFactory, WorkshopFactory
from tests.notifications.conftest import MANAGERS_CHAT, MSK

pytestmark = pytest.mark.slow

SENTINEL_CHAT = 990001


def book(branch, service, client, hour=10):
    return booking_create(workshop=branch, service=service, client=client, starts_at=next_weekday(2, MSK, hour),
                          channel="web")


def wait_for_sentinel(delivery):
    """Book at a second branch and wait for its managers' message: what was queued before has been handled."""
    other = WorkshopFactory(manager_telegram_chat_id=SENTINEL_CHAT)
    BayFactory(workshop=other)
    book(other, ServiceFactory(workshops=[other]), ClientFactory())
    delivery.botapi.wait_for(lambda: delivery.botapi.sent_to(SENTINEL_CHAT), timeout=30)


def wait_for_state(row, state, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row.refresh_from_db()
        if row.state == state:
            return row
        time.sleep(0.05)
    raise AssertionError(f"row {row.pk} is {row.state}, not {state}: {row.last_error}")


@pytest.fixture
def branch(branch):
    branch.manager_emails = ""  # one row per booking keeps the counting plain; e-mail has its own test
    branch.save()
    return branch


def test_a_new_booking_reaches_the_managers_chat_and_mailbox_once(delivery, branch, lift, oil_change, tg_client):
    branch.manager_emails = "olga@sto.test"
    branch.save()
    booking = book(branch, oil_change, tg_client)
    [message] = delivery.botapi.wait_for(lambda: delivery.botapi.sent_to(MANAGERS_CHAT), timeout=30)
    assert "Иван Петров" in message["text"]
    delivery.botapi.wait_for(lambda: delivery.smtp.messages, timeout=30)
    wait_for_sentinel(delivery)
    assert len(delivery.botapi.sent_to(MANAGERS_CHAT)) == 1 and len(delivery.smtp.messages) == 1
    assert set(Notification.objects.filter(booking=booking).values_list("state", flat=True)) == {"sent"}


def test_a_rolled_back_booking_sends_nothing(delivery, branch, lift, oil_change, tg_client):
    with pytest.raises(RuntimeError), transaction.atomic():
        book(branch, oil_change, tg_client)
        raise RuntimeError("rolled back after the booking was written")
    wait_for_sentinel(delivery)
    assert delivery.botapi.sent_to(MANAGERS_CHAT) == []
    assert not Notification.objects.filter(workshop=branch).exists()


def test_a_booking_made_while_redis_is_down_is_delivered_once_when_it_is_back(
    delivery, branch, lift, oil_change, tg_client
):
    delivery.redis.stop()
    booking = book(branch, oil_change, tg_client)  # the booking itself must not fail
    row = Notification.objects.get(booking=booking)
    assert row.state == NotificationState.PENDING and row.claimed_at is None
    delivery.redis.start()
    assert outbox_sweep(grace=timedelta(0)) == [row.pk]
    wait_for_state(row, NotificationState.SENT)
    assert outbox_sweep(grace=timedelta(0)) == []
    wait_for_sentinel(delivery)
    assert len(delivery.botapi.sent_to(MANAGERS_CHAT)) == 1


def test_a_worker_killed_mid_send_is_replaced_and_the_message_goes_out_once(
    delivery, branch, lift, oil_change, tg_client
):
    hold = delivery.botapi.hold_next("sendMessage", chat_id=MANAGERS_CHAT)
    booking = book(branch, oil_change, tg_client)
    assert hold.reached.wait(30), delivery.worker.log()
    delivery.worker.kill()
    hold.release(drop=True)  # the request dies with the worker: Telegram never got it
    row = Notification.objects.get(booking=booking)
    assert row.state == NotificationState.PENDING and row.claimed_at is not None
    assert outbox_sweep(grace=timedelta(0)) == [], "a fresh claim is left alone"
    delivery.new_worker()
    # NOTIFY_CLAIM_TIMEOUT_SECONDS (3 here): then the dead worker's claim is stale.
    time.sleep(max(0.0, (row.claimed_at + timedelta(seconds=3.1) - timezone.now()).total_seconds()))
    assert outbox_sweep(grace=timedelta(0)) == [row.pk]
    row = wait_for_state(row, NotificationState.SENT)
    assert row.attempts == 2
    wait_for_sentinel(delivery)
    assert len(delivery.botapi.sent_to(MANAGERS_CHAT)) == 1


def test_the_same_job_queued_three_times_and_swept_twice_sends_once(delivery, branch, lift, oil_change, tg_client):
    hold = delivery.botapi.hold_next("sendMessage", chat_id=MANAGERS_CHAT)
    booking = book(branch, oil_change, tg_client)
    row = Notification.objects.get(booking=booking)
    assert hold.reached.wait(30)
    for _ in range(3):
        send_notification.delay(row.pk)
    outbox_sweep(grace=timedelta(0))
    outbox_sweep(grace=timedelta(0))
    hold.release()
    wait_for_state(row, NotificationState.SENT)
    wait_for_sentinel(delivery)
    assert len(delivery.botapi.sent_to(MANAGERS_CHAT)) == 1
    assert len([c for c in delivery.botapi.calls("sendMessage") if c.params["chat_id"] == MANAGERS_CHAT]) == 1


def test_the_worker_waits_out_a_429_before_sending_again(delivery, branch, lift, oil_change, tg_client):
    delivery.botapi.fail_next("sendMessage", chat_id=MANAGERS_CHAT, retry_after=2)
    booking = book(branch, oil_change, tg_client)
    wait_for_state(Notification.objects.get(booking=booking), NotificationState.SENT)
    refused, sent = [c for c in delivery.botapi.calls("sendMessage") if c.params["chat_id"] == MANAGERS_CHAT]
    assert (refused.status, sent.status) == (429, 200)
    assert sent.at - refused.at >= 2.0


def test_a_message_retried_for_hours_is_sent_by_the_worker_once_the_sweep_finds_it(
    delivery, branch, lift, oil_change, tg_client
):
    delivery.botapi.fail_next("sendMessage", chat_id=MANAGERS_CHAT, error_code=502, description="Bad Gateway",
                              retry_after=None)
    booking = book(branch, oil_change, tg_client)
    row = delivery.botapi.wait_for(lambda: Notification.objects.filter(
        booking=booking, attempts=1, claimed_at=None, last_error="Telegram 502: Bad Gateway").first(), timeout=30)
    # Telegram was down for ten hours: ten failed attempts, the last retry due now and left to the sweep.
    now = timezone.now()
    Notification.objects.filter(pk=row.pk).update(attempts=10, next_attempt_at=now, queued_at=now - timedelta(hours=1))
    assert row.pk in outbox_sweep(grace=timedelta(seconds=120))
    row = wait_for_state(row, NotificationState.SENT)
    assert row.attempts == 11
    wait_for_sentinel(delivery)
    assert len(delivery.botapi.sent_to(MANAGERS_CHAT)) == 1
