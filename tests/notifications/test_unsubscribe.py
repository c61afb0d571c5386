"""A client without Telegram unsubscribes from return-visit e-mails with the link in the e-mail."""

from datetime import timedelta

import pytest
from django.test import Client as Browser
from django.utils import timezone

from bookings.models import Notification, NotificationState
from bookings.notifications.dispatch import notification_send
from bookings.notifications.scheduled import scan_return_nudges
from bookings.services import booking_import_visit
from clients.models import Consent, ConsentPurpose
from tests.factories import ClientFactory
from tests.notifications.test_return_nudges import due_moment, give_marketing_consent


@pytest.fixture
def emailed_nudge(branch, lift, oil_change, smtp, settings):
    """A return-visit e-mail to a client who has only an e-mail address, as their mail program received it."""
    settings.PUBLIC_URL = "https://sto.example.ru"
    oil_change.return_interval_months = 6
    oil_change.save()
    client = ClientFactory(name="Анна Петрова", email="anna@example.ru", phone="+79161112233")
    give_marketing_consent(client)
    visit = booking_import_visit(workshop=branch, client=client, service=oil_change,
                                 visited_on=timezone.localdate() - timedelta(days=200))
    [row] = Notification.objects.filter(pk__in=scan_return_nudges(now=due_moment(visit)))
    assert row.channel == "email"
    assert notification_send(row.pk, now=due_moment(visit)) == NotificationState.SENT
    [(_to, message)] = smtp.messages
    return client, message


def _link(message) -> str:
    text = message.get_body(preferencelist=("plain",)).get_content()
    [line] = [line for line in text.splitlines() if "отпишитесь" in line]
    return line.split(": ", 1)[1]


def marketing_active(client) -> bool:
    return Consent.objects.filter(client=client, purpose=ConsentPurpose.MARKETING, withdrawn_at__isnull=True).exists()


def test_the_e_mail_carries_the_link_and_the_one_click_header(emailed_nudge):
    client, message = emailed_nudge
    link = _link(message)

    assert link.startswith("https://sto.example.ru/unsubscribe/")
    assert f'href="{link}"' in message.get_body(preferencelist=("html",)).get_content()
    assert message["List-Unsubscribe"].strip() == f"<{link}>"  # folded: it is a long line
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_opening_the_link_asks_and_the_button_unsubscribes(emailed_nudge):
    client, message = emailed_nudge
    path = _link(message).removeprefix("https://sto.example.ru")
    browser = Browser(enforce_csrf_checks=True)

    asked = browser.get(path)
    assert asked.status_code == 200 and "Отписаться от сервисных рассылок?" in asked.content.decode()
    assert marketing_active(client), "opening the link (a mail scanner does) changes nothing"

    done = browser.post(path)
    assert done.status_code == 200 and "Сервисные рассылки отключены" in done.content.decode()
    assert not marketing_active(client)


def test_a_mail_programs_one_click_post_unsubscribes(emailed_nudge):
    client, message = emailed_nudge
    path = _link(message).removeprefix("https://sto.example.ru")

    response = Browser(enforce_csrf_checks=True).post(path, "List-Unsubscribe=One-Click",
                                                      content_type="application/x-www-form-urlencoded")

    assert response.status_code == 200 and not marketing_active(client)


def test_an_edited_link_unsubscribes_nobody(emailed_nudge):
    client, message = emailed_nudge
    path = _link(message).removeprefix("https://sto.example.ru")
    other = ClientFactory(name="Борис", phone="+79161112244")
    give_marketing_consent(other)
    forged = path.replace("/unsubscribe/", "/unsubscribe/x")

    response = Browser().post(forged)

    assert response.status_code == 404 and "Ссылка недействительна" in response.content.decode()
    assert marketing_active(client) and marketing_active(other)
