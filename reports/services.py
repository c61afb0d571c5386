"""The weekly owner report: who is due, what the e-mail says, and sending it exactly once.

Each active ``ReportSubscription`` gets last week's report (Monday to Sunday, local dates)
at the first run after Monday 08:00 in its time zone (its branch's; the company's
``TIME_ZONE`` for an all-branches subscription). A run claims the subscription with a
conditional UPDATE and, in the same transaction, writes one notifications-outbox row
(``owner_weekly_report``), so two overlapping runs queue it once; the outbox sends it
(claimed again there, so a task delivered twice still sends once) with retries.
"""

import io
import logging
from dataclasses import dataclass
from functools import partial
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from bookings.models import Notification, NotificationChannel, RecipientKind
from bookings.notifications import render
from bookings.notifications.queue import queue_send
from bookings.notifications.transports import TransportError
from reports.dashboard import cards
from reports.exports import CONTENT_TYPES, ReportData, report_filename, write_xlsx
from reports.figures import format_share
from reports.models import ReportSubscription
from reports.periods import Period
from reports.selectors import report_workshops_for_user
from workshops.models import Workshop

logger = logging.getLogger(__name__)

SEND_AT = time(8)  # Monday morning, local time
TEMPLATES = "reports/email/weekly_report"
WEEKLY_TEMPLATE_KEY = "owner_weekly_report"  # rendered by weekly_report_email (render.EMAIL_RENDERERS)


@dataclass(frozen=True)
class WeeklyReport:
    """A rendered weekly e-mail: subject, text and HTML bodies, and the XLSX file."""

    subject: str
    text: str
    html: str
    filename: str
    xlsx: bytes


def subscription_timezone(subscription: ReportSubscription) -> ZoneInfo:
    return subscription.workshop.tz if subscription.workshop_id else ZoneInfo(settings.TIME_ZONE)


def subscription_workshops(subscription: ReportSubscription) -> list[Workshop]:
    """The branches the recipient may read now (a manager who left a branch stops getting it)."""
    workshops = report_workshops_for_user(subscription.user)
    if subscription.workshop_id:
        workshops = workshops.filter(pk=subscription.workshop_id)
    return list(workshops)


def due_monday(subscription: ReportSubscription, now: datetime) -> date | None:
    """This week's local Monday if its report is due and not yet sent, else ``None``.

    Due from Monday 08:00 local until the end of Sunday, so a run missed on Monday
    (worker down) still sends later in the week.
    """
    local = now.astimezone(subscription_timezone(subscription))
    monday = local.date() - timedelta(days=local.weekday())
    if local < datetime.combine(monday, SEND_AT, tzinfo=local.tzinfo):
        return None
    if subscription.last_sent_monday is not None and subscription.last_sent_monday >= monday:
        return None
    return monday


def weekly_report_build(*, subscription: ReportSubscription, monday: date) -> WeeklyReport:
    """The e-mail for the week before ``monday`` over the recipient's branches, from templates."""
    workshops = subscription_workshops(subscription)
    period = Period(monday - timedelta(days=7), monday)
    data = ReportData.build(workshops=workshops, period=period)
    buffer = io.BytesIO()
    write_xlsx(data, buffer)
    context = {
        "user": subscription.user,
        "report": data.report,
        "previous": data.previous,
        "cards": cards(data.report, data.previous),
        "branches": [(w, data.report.by_branch[w.pk], format_share(data.report.occupancy[w.pk].share))
                     for w in data.report.workshops],
        "scope": ", ".join(w.name for w in workshops) or "нет доступных филиалов",
    }
    return WeeklyReport(
        subject=" ".join(render_to_string(f"{TEMPLATES}_subject.txt", context).split()),
        text=render_to_string(f"{TEMPLATES}_body.txt", context),
        html=render_to_string(f"{TEMPLATES}_body.html", context),
        filename=report_filename(period, "xlsx", workshops if subscription.workshop_id else ()),
        xlsx=buffer.getvalue(),
    )


def weekly_report_email(notification: Notification, *, now: datetime | None = None) -> render.EmailMessage:
    """The outbox's renderer for ``owner_weekly_report`` rows: the e-mail with its XLSX, built when sent.

    The row carries only the subscription id and the Monday (``payload``), so neither the
    task arguments nor the row hold figures or client data; a retry rebuilds the same week.
    """
    subscription = ReportSubscription.objects.select_related("user", "workshop").filter(
        pk=notification.payload.get("subscription_id")
    ).first()
    if subscription is None:
        raise TransportError("Подписка на отчёт удалена.", permanent=True)
    report = weekly_report_build(subscription=subscription, monday=date.fromisoformat(notification.payload["monday"]))
    return render.EmailMessage(
        subject=report.subject, text=report.text, html=report.html,
        attachments=((report.filename, report.xlsx, CONTENT_TYPES["xlsx"]),),
    )


def weekly_report_send(*, subscription_id: int, monday: date, now: datetime | None = None) -> bool:
    """Claim the subscription for ``monday`` and put its report in the notifications outbox.

    ``False`` if someone else claimed it. The claim and the outbox row commit together;
    after commit the row is queued, and the outbox's sender builds and delivers the e-mail
    with retries (a failure is recorded on the row, shown in admin; the claim stays).
    """
    now = now or timezone.now()
    claimable = ReportSubscription.objects.filter(pk=subscription_id, is_active=True).filter(
        Q(last_sent_monday__isnull=True) | Q(last_sent_monday__lt=monday)
    )
    with transaction.atomic():
        if not claimable.update(last_sent_monday=monday, last_sent_at=now):
            return False
        subscription = ReportSubscription.objects.get(pk=subscription_id)
        # The dedup key guards the week once more, should the claim ever be reset by hand.
        row, created = Notification.objects.get_or_create(
            dedup_key=f"weekly_report:{subscription_id}:{monday.isoformat()}",
            defaults=dict(
                recipient_kind=RecipientKind.USER, user_id=subscription.user_id,
                workshop_id=subscription.workshop_id, channel=NotificationChannel.EMAIL,
                template_key=WEEKLY_TEMPLATE_KEY,
                payload={"subscription_id": subscription_id, "monday": monday.isoformat()},
            ),
        )
        if created:
            transaction.on_commit(partial(queue_send, [row.pk]))
    logger.info("weekly report queued: subscription %s, week before %s, notification %s",
                subscription_id, monday, row.pk)
    return created


def weekly_reports_send_due(*, now: datetime | None = None) -> int:
    """Put every weekly report that is due now in the outbox; the number queued.

    One recipient's failure is logged and does not stop the others; delivery problems
    are the outbox's (retried with backoff, visible in admin).
    """
    now = now or timezone.now()
    queued = 0
    subscriptions = ReportSubscription.objects.filter(is_active=True, user__is_active=True).select_related("workshop")
    for subscription in subscriptions.exclude(user__email=""):
        monday = due_monday(subscription, now)
        if monday is None:
            continue
        try:
            queued += weekly_report_send(subscription_id=subscription.pk, monday=monday, now=now)
        except Exception:
            logger.exception("weekly report not queued: subscription %s", subscription.pk)
    return queued
