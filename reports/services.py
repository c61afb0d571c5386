"""The weekly owner report: who is due, what the e-mail says, and sending it exactly once.

Each active ``ReportSubscription`` gets last week's report (Monday to Sunday, local dates)
at the first run after Monday 08:00 in its time zone (its branch's; the company's
``TIME_ZONE`` for an all-branches subscription). A run claims the subscription with a
conditional UPDATE before sending, so two overlapping runs send once.
"""

import io
import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

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


def weekly_report_send(*, subscription_id: int, monday: date, now: datetime | None = None) -> bool:
    """Claim the subscription for ``monday`` and send its report; ``False`` if someone else claimed it.

    If sending fails the claim is released, so the next run tries again, and the error is raised.
    """
    now = now or timezone.now()
    claimable = ReportSubscription.objects.filter(pk=subscription_id, is_active=True).filter(
        Q(last_sent_monday__isnull=True) | Q(last_sent_monday__lt=monday)
    )
    previous = claimable.values_list("last_sent_monday", "last_sent_at").first()
    if previous is None or not claimable.update(last_sent_monday=monday, last_sent_at=now):
        return False
    subscription = ReportSubscription.objects.select_related("user", "workshop").get(pk=subscription_id)
    try:
        report = weekly_report_build(subscription=subscription, monday=monday)
        # OUTBOX (issue 4): replace the lines below with one outbox row (channel e-mail,
        # recipient subscription.user, subject/text/html, the XLSX as attachment), written in
        # a transaction.atomic() together with the claim above; the outbox's sender then
        # delivers it with retries, and the except-branch below goes away.
        message = EmailMultiAlternatives(report.subject, report.text, to=[subscription.user.email])
        message.attach_alternative(report.html, "text/html")
        message.attach(report.filename, report.xlsx, CONTENT_TYPES["xlsx"])
        message.send()
    except Exception:
        ReportSubscription.objects.filter(pk=subscription_id, last_sent_monday=monday).update(
            last_sent_monday=previous[0], last_sent_at=previous[1]
        )
        raise
    logger.info("weekly report sent: subscription %s, week before %s", subscription_id, monday)
    return True


def weekly_reports_send_due(*, now: datetime | None = None) -> int:
    """Send every weekly report that is due now; the number sent.

    One recipient's failure (say, the SMTP server refusing) is logged and does not stop
    the others; their claim is released, so the next hourly run retries them.
    """
    now = now or timezone.now()
    sent = 0
    subscriptions = ReportSubscription.objects.filter(is_active=True, user__is_active=True).select_related("workshop")
    for subscription in subscriptions.exclude(user__email=""):
        monday = due_monday(subscription, now)
        if monday is None:
            continue
        try:
            sent += weekly_report_send(subscription_id=subscription.pk, monday=monday, now=now)
        except Exception:
            logger.exception("weekly report not sent: subscription %s", subscription.pk)
    return sent
