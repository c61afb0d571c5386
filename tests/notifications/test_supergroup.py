"""The managers' group upgraded to a supergroup: messages follow it to the new chat id."""

import pytest

from bookings.models import BookingChannel, Notification, NotificationState
from bookings.notifications.dispatch import notification_send
from bookings.services import booking_create
from tests.conftest import next_weekday
from tests.factories import WorkshopFactory
from tests.notifications.conftest import MANAGERS_CHAT, MSK
from tests.notifications.test_bot_buttons import run_updates

SUPERGROUP = -1001234567890


def telegram_row(booking):
    return Notification.objects.get(booking=booking, channel="telegram")


def test_a_managers_message_to_an_upgraded_group_goes_to_the_supergroup_and_the_branch_follows_it(booking, botapi):
    botapi.upgrade_to_supergroup(MANAGERS_CHAT, SUPERGROUP)
    row = telegram_row(booking)
    assert notification_send(row.pk) == NotificationState.SENT
    [message] = botapi.sent_to(SUPERGROUP)
    assert message["text"].startswith("🆕 Новая запись")
    booking.workshop.refresh_from_db()
    assert booking.workshop.manager_telegram_chat_id == SUPERGROUP

    second = booking_create(workshop=booking.workshop, service=booking.service, client=booking.client,
                            starts_at=next_weekday(3, MSK, 12), channel=BookingChannel.TELEGRAM)
    assert notification_send(telegram_row(second).pk) == NotificationState.SENT
    assert len(botapi.sent_to(SUPERGROUP)) == 2
    assert [c.params["chat_id"] for c in botapi.calls("sendMessage")] == [MANAGERS_CHAT, SUPERGROUP, SUPERGROUP]


def test_the_transport_names_the_chat_the_group_moved_to(booking, botapi):
    from bookings.notifications.transports import ChatMigrated, telegram_send

    botapi.upgrade_to_supergroup(MANAGERS_CHAT, SUPERGROUP)
    with pytest.raises(ChatMigrated) as error:
        telegram_send(MANAGERS_CHAT, "проверка")
    assert error.value.permanent and error.value.new_chat_id == SUPERGROUP


@pytest.mark.django_db(transaction=True)
def test_the_bot_moves_the_branch_to_the_supergroup_when_it_sees_the_service_message(branch, botapi):
    other = WorkshopFactory(name="СТО Север", manager_telegram_chat_id=-555)
    run_updates(botapi, *botapi.upgrade_to_supergroup(MANAGERS_CHAT, SUPERGROUP))
    branch.refresh_from_db()
    other.refresh_from_db()
    assert branch.manager_telegram_chat_id == SUPERGROUP
    assert other.manager_telegram_chat_id == -555
    assert botapi.calls("sendMessage") == []
