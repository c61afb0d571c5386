"""Return-visit nudges: N months after the last completed visit of a service, only with marketing consent."""

from datetime import datetime, time, timedelta

import pytest
from dateutil.relativedelta import relativedelta
from django.utils import timezone

from bookings.models import Notification, NotificationState
from bookings.notifications.dispatch import notification_send
from bookings.notifications.scheduled import scan_return_nudges
from bookings.services import booking_create, booking_import_visit
from clients.models import Consent, ConsentPurpose
from clients.services import marketing_consent_withdraw
from tests.conftest import next_weekday
from tests.notifications.conftest import CLIENT_TG, MSK


def give_marketing_consent(client):
    return Consent.objects.create(
        client=client, telegram_user_id=client.telegram_user_id, purpose=ConsentPurpose.MARKETING,
        text_version="1", text_hash="0" * 64, text="Согласен получать сервисные рассылки.", channel="telegram",
    )


@pytest.fixture
def last_visit(branch, lift, oil_change, tg_client):
    oil_change.return_interval_months = 6
    oil_change.save()
    visited_on = timezone.localdate() - timedelta(days=200)
    return booking_import_visit(workshop=branch, client=tg_client, service=oil_change, visited_on=visited_on)


def due_moment(visit, hour=12):
    """Local ``hour`` on the day after the nudge falls due."""
    day = (visit.starts_at.astimezone(MSK) + relativedelta(months=6) + timedelta(days=1)).date()
    return datetime.combine(day, time(hour), tzinfo=MSK)


def nudges():
    return list(Notification.objects.filter(template_key="client_return_nudge"))


def test_a_consenting_client_is_invited_back_once_the_interval_has_passed(last_visit, botapi):
    give_marketing_consent(last_visit.client)
    assert scan_return_nudges(now=due_moment(last_visit) - timedelta(days=2)) == []
    [row] = Notification.objects.filter(pk__in=scan_return_nudges(now=due_moment(last_visit)))
    assert (row.booking_id, row.client_id, row.payload) == (last_visit.pk, last_visit.client_id, {"months": 6})
    assert scan_return_nudges(now=due_moment(last_visit) + timedelta(hours=1)) == []
    assert notification_send(row.pk, now=due_moment(last_visit)) == NotificationState.SENT
    text = botapi.last_message(CLIENT_TG)["text"]
    assert "прошло 6 мес." in text and "/stop_ads" in text


def test_without_marketing_consent_nobody_is_nudged(last_visit):
    assert scan_return_nudges(now=due_moment(last_visit)) == []


def test_a_withdrawn_consent_stops_nudges_even_one_already_written(last_visit, botapi):
    give_marketing_consent(last_visit.client)
    [row] = Notification.objects.filter(pk__in=scan_return_nudges(now=due_moment(last_visit)))
    assert marketing_consent_withdraw(telegram_user_id=CLIENT_TG) == 1
    assert notification_send(row.pk, now=due_moment(last_visit)) == NotificationState.SKIPPED
    assert botapi.calls("sendMessage") == []


def test_a_client_already_booked_or_it_is_night_at_the_branch_is_not_nudged(last_visit, oil_change):
    give_marketing_consent(last_visit.client)
    assert scan_return_nudges(now=due_moment(last_visit, hour=23)) == []
    booking_create(workshop=last_visit.workshop, service=oil_change, client=last_visit.client,
                   starts_at=next_weekday(2, MSK, 10), channel="telegram")
    assert scan_return_nudges(now=due_moment(last_visit)) == []
    assert nudges() == []


def test_only_the_latest_visit_of_the_service_counts(last_visit, oil_change):
    give_marketing_consent(last_visit.client)
    booking_import_visit(workshop=last_visit.workshop, client=last_visit.client, service=oil_change,
                         visited_on=timezone.localdate() - timedelta(days=30))
    assert scan_return_nudges(now=due_moment(last_visit)) == []


@pytest.mark.parametrize("name", ["Замена масла и фильтра", "Плановое ТО", "Мойка кузова и салона"])
def test_the_e_mail_subject_reads_right_for_any_service_name(last_visit, name):
    from bookings.notifications.render import render_email, render_telegram

    last_visit.service.name = name
    last_visit.service.save()
    row = Notification(booking=last_visit, workshop=last_visit.workshop, client=last_visit.client,
                       recipient_kind="client", channel="email", template_key="client_return_nudge",
                       payload={"months": 6})
    assert render_email(row).subject == f"Пора на сервис: {name} — СТО Центр"
    row.channel = "telegram"
    visit_date = f"{last_visit.starts_at.astimezone(MSK):%d.%m.%Y}"
    assert f"С вашего визита в СТО Центр ({name}, {visit_date}) прошло 6 мес." in render_telegram(row).text
