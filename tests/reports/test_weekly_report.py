"""The weekly owner e-mail: due on Monday morning in the recipient's time zone, sent once through
the notifications outbox, XLSX attached.

``run`` is what beat and the worker do: the hourly task writes outbox rows, then the outbox's
send task (run here synchronously, as the worker would after commit) delivers each pending row.
"""

import email
import io
import socket
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings
from django.core import mail
from openpyxl import load_workbook

from bookings.models import Notification, NotificationState
from bookings.tasks import send_notification
from reports.models import ReportSubscription
from reports.services import weekly_reports_send_due
from tests.reports.files import NAME_OF

MSK, NSK = ZoneInfo("Europe/Moscow"), ZoneInfo("Asia/Novosibirsk")
MONDAY = date(2025, 3, 3)  # the report covers 24 Feb … 2 Mar


def at(text: str, tz: ZoneInfo = MSK) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=tz)


@pytest.fixture
def subscriptions(march_world):
    owner, manager = march_world.owner, march_world.manager_center
    owner.email, manager.email = "owner@example.com", "center@example.com"
    owner.first_name = "Ольга"
    owner.save()
    manager.save()
    return {
        "all": ReportSubscription.objects.create(user=owner),  # company time zone: Moscow
        "center": ReportSubscription.objects.create(user=manager, workshop=march_world.center),
        "east": ReportSubscription.objects.create(user=owner, workshop=march_world.east),  # Novosibirsk
    }


def run(now: datetime) -> int:
    """One hourly run and the outbox's sends after it; the number of reports queued."""
    queued = weekly_reports_send_due(now=now)
    for pk in pending_reports().values_list("pk", flat=True):
        send_notification.apply((pk,))
    return queued


def pending_reports():
    return Notification.objects.filter(template_key="owner_weekly_report", state=NotificationState.PENDING)


def summary_of(attachment: bytes) -> dict[str, object]:
    rows = list(load_workbook(io.BytesIO(attachment))["Сводка"].iter_rows(values_only=True))
    return {NAME_OF[row[0]]: row[1] for row in rows if row and row[0] in NAME_OF}


def test_it_sends_on_monday_morning_in_each_recipients_time_zone(subscriptions):
    assert run(at("2025-03-03 03:59")) == 0  # 07:59 in Novosibirsk
    assert run(at("2025-03-03 04:00")) == 1  # 08:00 in Novosibirsk
    assert [m.subject for m in mail.outbox] == ["Отчёт по записям за 24.02.2025 — 02.03.2025 — СТО Восток"]
    assert run(at("2025-03-03 07:59")) == 0
    assert run(at("2025-03-03 08:00")) == 2
    assert len(mail.outbox) == 3


def test_running_twice_sends_once(subscriptions):
    assert run(at("2025-03-03 09:00")) == 3
    assert run(at("2025-03-03 09:00")) == 0
    assert run(at("2025-03-05 12:00")) == 0

    assert sorted(m.to[0] for m in mail.outbox) == ["center@example.com", "owner@example.com", "owner@example.com"]
    assert set(ReportSubscription.objects.values_list("last_sent_monday", flat=True)) == {MONDAY}


def test_a_missed_monday_is_sent_later_that_week_and_next_week_comes_again(subscriptions):
    assert run(at("2025-03-05 12:00")) == 3
    assert run(at("2025-03-10 09:00")) == 3
    assert len(mail.outbox) == 6
    assert mail.outbox[-1].subject.startswith("Отчёт по записям за 03.03.2025 — 09.03.2025")


def test_a_switched_off_recipient_gets_nothing(subscriptions):
    ReportSubscription.objects.filter(pk__in=[subscriptions["all"].pk, subscriptions["east"].pk]).update(is_active=False)

    assert run(at("2025-03-03 09:00")) == 1
    assert [m.to for m in mail.outbox] == [["center@example.com"]]
    assert ReportSubscription.objects.get(pk=subscriptions["all"].pk).last_sent_monday is None


def test_the_owners_email_has_the_weeks_figures_in_text_html_and_xlsx(subscriptions):
    run(at("2025-03-03 09:00"))
    message = next(m for m in mail.outbox if "СТО Восток, СТО Центр" in m.subject)

    assert message.subject == "Отчёт по записям за 24.02.2025 — 02.03.2025 — СТО Восток, СТО Центр"
    # 24 Feb … 2 Mar: new b2 b3 b5 (Telegram b2 b5); visits b13 b16; cancelled b8 b12; no-show b9.
    assert "Здравствуйте, Ольга!" in message.body
    # The week before (17 … 23 Feb): new b12 b16, of them confirmed b16.
    assert "Новые записи: 3 (было 2, +1 / +50 %)" in message.body
    assert "Подтверждены: 3 (было 1, +2 / +200 %)" in message.body
    assert "Вернувшиеся клиенты: 0 (было 0, без изменений)" in message.body
    assert "Выполненные визиты: 2" in message.body
    assert "СТО Восток: новые записи 1, выполненные визиты 2, отменены 0, неявки 1" in message.body
    html, mime = message.alternatives[0]
    assert mime == "text/html" and "<strong>3</strong>" in html
    (filename, content, content_type), = message.attachments
    assert filename == "report-2025-02-24-2025-03-02.xlsx"
    assert content_type == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    summary = summary_of(content)
    assert {k: summary[k] for k in ("new", "confirmed", "telegram_new", "completed", "cancelled", "no_show")} == {
        "new": 3, "confirmed": 3, "telegram_new": 2, "completed": 2, "cancelled": 2, "no_show": 1}


def test_a_managers_email_holds_only_their_branch(subscriptions):
    run(at("2025-03-03 09:00"))
    message = next(m for m in mail.outbox if m.to == ["center@example.com"])

    assert message.subject == "Отчёт по записям за 24.02.2025 — 02.03.2025 — СТО Центр"
    assert "СТО Восток" not in message.body + message.alternatives[0][0]
    summary = summary_of(message.attachments[0][1])
    assert {k: summary[k] for k in ("new", "completed", "cancelled", "no_show")} == {
        "new": 2, "completed": 0, "cancelled": 2, "no_show": 0}
    rows = load_workbook(io.BytesIO(message.attachments[0][1]))["Записи"].iter_rows(min_row=2, values_only=True)
    assert {row[1] for row in rows} == {"СТО Центр"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp_server(settings):
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    yield inbox
    controller.stop()


def test_it_goes_out_through_the_outbox_and_a_real_smtp_server_with_the_attachment(subscriptions, smtp_server):
    ReportSubscription.objects.exclude(pk=subscriptions["center"].pk).update(is_active=False)

    assert run(at("2025-03-03 09:00")) == 1
    (received,) = smtp_server.messages
    assert received["To"] == "center@example.com"
    parts = {part.get_content_type(): part for part in received.walk()}
    assert "text/plain" in parts and "text/html" in parts
    xlsx = parts["application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"]
    assert xlsx.get_filename() == "report-center-2025-02-24-2025-03-02.xlsx"
    assert summary_of(xlsx.get_payload(decode=True))["new"] == 2
    row = Notification.objects.get(template_key="owner_weekly_report")
    assert (row.state, row.attempts, row.external_id) == (NotificationState.SENT, 1, received["Message-ID"])


def test_the_outbox_row_names_the_recipient_and_the_week_by_reference_only(subscriptions):
    assert weekly_reports_send_due(now=at("2025-03-03 09:00")) == 3
    center = Notification.objects.get(user=subscriptions["center"].user)

    assert (center.channel, center.recipient_kind, center.workshop_id) == ("email", "user", subscriptions["center"].workshop_id)
    assert center.payload == {"subscription_id": subscriptions["center"].pk, "monday": "2025-03-03"}
    assert center.state == NotificationState.PENDING and mail.outbox == []


def test_a_send_task_delivered_twice_sends_once(subscriptions, smtp_server):
    ReportSubscription.objects.exclude(pk=subscriptions["center"].pk).update(is_active=False)
    weekly_reports_send_due(now=at("2025-03-03 09:00"))
    (row,) = pending_reports()

    assert send_notification.apply((row.pk,)).get() == NotificationState.SENT
    assert send_notification.apply((row.pk,)).get() == ""
    assert run(at("2025-03-03 10:00")) == 0
    assert len(smtp_server.messages) == 1


def test_a_failed_send_stays_in_the_outbox_and_is_retried_without_a_second_report(subscriptions, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()

    assert run(at("2025-03-03 09:00")) == 3
    rows = Notification.objects.filter(template_key="owner_weekly_report")
    assert {(r.state, r.attempts) for r in rows} == {(NotificationState.PENDING, 1)}
    assert all(r.last_error.startswith("Почтовый сервер недоступен") for r in rows)
    assert set(ReportSubscription.objects.values_list("last_sent_monday", flat=True)) == {MONDAY}
    assert run(at("2025-03-03 10:00")) == 0  # claimed: the next hourly run adds nothing

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    rows.update(next_attempt_at=rows[0].created_at)  # the backoff has passed
    for pk in pending_reports().values_list("pk", flat=True):
        send_notification.apply((pk,))
    assert len(mail.outbox) == 3
    assert {(r.state, r.attempts) for r in rows.all()} == {(NotificationState.SENT, 2)}


def test_a_subscription_deleted_before_sending_fails_its_row_for_good(subscriptions):
    weekly_reports_send_due(now=at("2025-03-03 09:00"))
    row = Notification.objects.get(payload__subscription_id=subscriptions["east"].pk)
    subscriptions["east"].delete()

    assert send_notification.apply((row.pk,)).get() == NotificationState.FAILED
    row.refresh_from_db()
    assert row.last_error == "Подписка на отчёт удалена." and mail.outbox == []


def test_beat_runs_the_weekly_task_every_hour():
    from config.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["reports-weekly-owner-report"]
    assert entry == {"task": "reports.send_weekly_reports", "schedule": 3600.0}
    app.loader.import_default_modules()
    assert "reports.send_weekly_reports" in app.tasks


def test_the_task_sends_what_is_due(subscriptions, settings):
    from reports.tasks import send_weekly_reports

    ReportSubscription.objects.update(last_sent_monday=date(2000, 1, 3))
    assert send_weekly_reports.apply().get() == 3
    assert pending_reports().count() == 3
