"""Reads for owner reports: who may see which branches, and the figures of DESIGN §4.

Every figure is counted in SQL over the period ``[start, end)`` taken in each branch's own
time zone (a branch in Novosibirsk and one in Moscow each count their own local dates).
The additive counts come from three grouped queries (created, completed, moved to a
status) at the grain *branch × local day × channel × service*, rolled up here; distinct
client counts need their own queries per breakdown. A detailed report costs about a
dozen queries whatever the period; ``detail=False`` (the comparison period) about five.
"""

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Case, Count, DateField, Exists, F, OuterRef, Q, QuerySet, Sum, When
from django.db.models.functions import TruncDate

from bookings.availability import load_schedule
from bookings.models import Booking, BookingChannel, BookingEvent, BookingHistory, BookingStatus
from reports.figures import Figures, Occupancy, Report
from reports.periods import Period
from workshops.models import Bay, Service, StaffRole, Workshop
from workshops.selectors import user_is_owner, workshops_for_user

# A booking in one of these statuses has necessarily passed through «confirmed» (the status
# machine has no way back); only a cancelled one needs its history read.
_CONFIRMED_OR_LATER = (BookingStatus.CONFIRMED, BookingStatus.COMPLETED, BookingStatus.NO_SHOW)
_MOVED_TO = (BookingStatus.CANCELLED, BookingStatus.NO_SHOW)


# --- who sees what ----------------------------------------------------------------


def report_workshops_for_user(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Workshop]:
    """Branches whose reports ``user`` may read: all for an owner, a manager's own branches.

    Staff without the manager role read no reports.
    """
    workshops = workshops_for_user(user)
    if user.is_authenticated and not user_is_owner(user):
        workshops = workshops.filter(memberships__user=user, memberships__role=StaffRole.MANAGER)
    return workshops.order_by("name", "id")


def user_sees_reports(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Owners always (an installation without branches yet shows zeros); managers of some branch."""
    if not (user.is_authenticated and user.is_active):
        return False
    return user_is_owner(user) or report_workshops_for_user(user).exists()


# --- period scope -------------------------------------------------------------------


@dataclass(frozen=True)
class _Scope:
    """Branches grouped by time zone, to turn the period into per-branch UTC ranges in SQL."""

    period: Period
    by_tz: dict[str, tuple[int, ...]]

    @classmethod
    def of(cls, workshops: Sequence[Workshop], period: Period) -> "_Scope":
        by_tz: dict[str, list[int]] = defaultdict(list)
        for workshop in workshops:
            by_tz[workshop.timezone].append(workshop.pk)
        return cls(period, {tz: tuple(ids) for tz, ids in sorted(by_tz.items())})

    def in_period(self, field: str, workshop_field: str = "workshop_id") -> Q:
        """``field`` falls inside the period in the local dates of the row's branch."""
        condition = Q(pk__in=[])
        for tz, ids in self.by_tz.items():
            start, end = self.period.bounds(ZoneInfo(tz))
            condition |= Q(**{f"{workshop_field}__in": ids, f"{field}__gte": start, f"{field}__lt": end})
        return condition

    def local_date(self, field: str, workshop_field: str = "workshop_id") -> TruncDate | Case:
        """The local date of ``field`` in the time zone of the row's branch."""
        if len(self.by_tz) == 1:
            return TruncDate(field, tzinfo=ZoneInfo(next(iter(self.by_tz))))
        return Case(
            *[
                When(**{f"{workshop_field}__in": ids}, then=TruncDate(field, tzinfo=ZoneInfo(tz)))
                for tz, ids in self.by_tz.items()
            ],
            output_field=DateField(),
        )


# --- the report ---------------------------------------------------------------------


def report_figures(*, workshops: Sequence[Workshop], period: Period, detail: bool = True) -> Report:
    """The figures of DESIGN §4 for ``workshops`` over ``period``.

    The caller decides which branches the reader may see (``report_workshops_for_user``).
    ``detail=False`` fills only ``total`` (for the comparison with the previous period).
    With no branches the report is all zeros and costs no query.
    """
    workshops = list(workshops)
    report = Report(period=period, workshops=workshops, total=_zero_clients(Figures()))
    if detail:
        report.by_day = {day: _zero_clients(Figures(), booked=False) for day in period.dates()}
        report.by_branch = {w.pk: _zero_clients(Figures()) for w in workshops}
        report.occupancy = {w.pk: Occupancy() for w in workshops}
    if not workshops:
        return report
    scope = _Scope.of(workshops, period)
    _add_created(report, scope, detail)
    _add_completed(report, scope, detail)
    _add_moved(report, scope, detail)
    _add_visited_clients(report, scope, detail)
    _add_booked_clients(report, scope, detail)
    if detail:
        _add_occupancy(report, scope)
        report.service_names = dict(
            Service.objects.filter(pk__in=report.by_service).values_list("id", "name")
        )
    return report


def _zero_clients(figures: Figures, *, booked: bool = True) -> Figures:
    figures.visited_clients = figures.returning_clients = 0
    if booked:
        figures.booked_clients = figures.telegram_clients = 0
    return figures


def _rollup(report: Report, detail: bool, *, workshop_id: int, day: date, channel: str, service_id: int,
            **counts: int) -> None:
    """Add one grouped row's counts to the total and, in detail, to each breakdown it belongs to."""
    row = Figures(**counts)
    report.total.add(row)
    if not detail:
        return
    for breakdown, key in (
        (report.by_day, day), (report.by_branch, workshop_id),
        (report.by_service, service_id), (report.by_channel, channel),
    ):
        breakdown.setdefault(key, Figures()).add(row)


def _add_created(report: Report, scope: _Scope, detail: bool) -> None:
    """New bookings (created in the period, not imported) and which of them ever reached «confirmed»."""
    ever_confirmed = Q(status__in=_CONFIRMED_OR_LATER) | Q(
        Exists(BookingHistory.objects.filter(booking=OuterRef("pk"), to_status=BookingStatus.CONFIRMED)),
        status=BookingStatus.CANCELLED,
    )
    rows = (
        Booking.objects.filter(scope.in_period("created_at"))
        .exclude(channel=BookingChannel.IMPORT)
        .annotate(day=scope.local_date("created_at"))
        .values("workshop_id", "day", "channel", "service_id", "status")
        .annotate(new=Count("id"), confirmed=Count("id", filter=ever_confirmed))
        .order_by()
    )
    for row in rows:
        status, channel = row.pop("status"), row["channel"]
        telegram = row["new"] if channel == BookingChannel.TELEGRAM else 0
        _rollup(report, detail, telegram_new=telegram, **row)
        if detail:
            key = (row["day"], channel)
            report.new_by_day_channel[key] = report.new_by_day_channel.get(key, 0) + row["new"]
            report.funnel[status] = report.funnel.get(status, 0) + row["new"]


def _add_completed(report: Report, scope: _Scope, detail: bool) -> None:
    """Completed visits: status «completed» and the visit starts in the period (imported ones too)."""
    rows = (
        Booking.objects.filter(scope.in_period("starts_at"), status=BookingStatus.COMPLETED)
        .annotate(day=scope.local_date("starts_at"))
        .values("workshop_id", "day", "channel", "service_id")
        .annotate(completed=Count("id"))
        .order_by()
    )
    for row in rows:
        _rollup(report, detail, **row)


def _add_moved(report: Report, scope: _Scope, detail: bool) -> None:
    """Bookings moved to «cancelled» / «no_show» in the period, whenever they were created."""
    rows = (
        BookingHistory.objects.filter(
            scope.in_period("at", "booking__workshop_id"), event=BookingEvent.STATUS, to_status__in=_MOVED_TO
        )
        .annotate(
            day=scope.local_date("at", "booking__workshop_id"),
            workshop_id=F("booking__workshop_id"),
            channel=F("booking__channel"),
            service_id=F("booking__service_id"),
        )
        .values("workshop_id", "day", "channel", "service_id", "to_status")
        .annotate(n=Count("booking_id", distinct=True))
        .order_by()
    )
    for row in rows:
        status, n = row.pop("to_status"), row.pop("n")
        _rollup(report, detail, **row, **{"cancelled" if status == BookingStatus.CANCELLED else "no_show": n})


def _distinct_clients(queryset: QuerySet, group_by: str | None, **counts: Count) -> Iterator[tuple[object, dict]]:
    """Distinct-client counts for the whole queryset (key ``None``) or per ``group_by`` value."""
    if group_by is None:
        yield None, queryset.aggregate(**counts)
        return
    for row in queryset.values(group_by).annotate(**counts).order_by():
        yield row.pop(group_by), row


def _add_visited_clients(report: Report, scope: _Scope, detail: bool) -> None:
    """Clients with a completed visit in the period, and the returning ones among them.

    A client is returning when one of their visits in the period has an earlier completed
    visit anywhere in the company (clients are company-wide; imported history counts).
    So a client new to the shop who comes twice in the period is returning on the second visit.
    """
    earlier_visit = Booking.objects.filter(
        client=OuterRef("client_id"), status=BookingStatus.COMPLETED, starts_at__lt=OuterRef("starts_at")
    )
    visits = Booking.objects.filter(scope.in_period("starts_at"), status=BookingStatus.COMPLETED).annotate(
        has_earlier=Exists(earlier_visit)
    )
    counts = {
        "visited_clients": Count("client_id", distinct=True),
        "returning_clients": Count("client_id", distinct=True, filter=Q(has_earlier=True)),
    }
    targets = [(None, {None: report.total})]
    if detail:
        targets += [("workshop_id", report.by_branch), ("day", report.by_day)]
    for group_by, breakdown in targets:
        queryset = visits.annotate(day=scope.local_date("starts_at")) if group_by == "day" else visits
        for key, values in _distinct_clients(queryset, group_by, **counts):
            if key in breakdown:
                breakdown[key].visited_clients = values["visited_clients"]
                breakdown[key].returning_clients = values["returning_clients"]


def _add_booked_clients(report: Report, scope: _Scope, detail: bool) -> None:
    """Clients with any booking in the period, and those linked to Telegram (``_booking_in_period``)."""
    bookings = Booking.objects.filter(_booking_in_period(scope))
    counts = {
        "booked_clients": Count("client_id", distinct=True),
        "telegram_clients": Count("client_id", distinct=True, filter=Q(client__telegram_user_id__isnull=False)),
    }
    targets = [(None, {None: report.total})]
    if detail:
        targets.append(("workshop_id", report.by_branch))
    for group_by, breakdown in targets:
        for key, values in _distinct_clients(bookings, group_by, **counts):
            if key in breakdown:
                breakdown[key].booked_clients = values["booked_clients"]
                breakdown[key].telegram_clients = values["telegram_clients"]


def _booking_in_period(scope: _Scope) -> Q:
    """A booking «in the period»: created in it (imports excepted: their creation date is the
    day of the import, not of any visit) or with its visit starting in it."""
    return (scope.in_period("created_at") & ~Q(channel=BookingChannel.IMPORT)) | scope.in_period("starts_at")


def _add_occupancy(report: Report, scope: _Scope) -> None:
    """Booked minutes (bookings not cancelled, not imported, starting in the period) ÷ open minutes.

    Open minutes: the branch's hours on each local date of the period (closed days and
    days off count zero) times its active bays.
    """
    booked = (
        Booking.objects.filter(scope.in_period("starts_at"))
        .exclude(status=BookingStatus.CANCELLED)
        .exclude(channel=BookingChannel.IMPORT)
        .values("workshop_id")
        .annotate(duration=Sum(F("ends_at") - F("starts_at")))
        .order_by()
    )
    for row in booked:
        report.occupancy[row["workshop_id"]].booked_minutes = int(row["duration"].total_seconds() // 60)
    bays = dict(
        Bay.objects.filter(workshop__in=report.workshops, is_active=True)
        .values("workshop_id").annotate(n=Count("id")).order_by().values_list("workshop_id", "n")
    )
    for workshop in report.workshops:
        schedule = load_schedule(workshop=workshop, first_day=report.period.start, last_day=report.period.last_day)
        minutes = sum(
            (close - open_).total_seconds() // 60 for day in schedule.values() for open_, close in day.intervals
        )
        report.occupancy[workshop.pk].open_minutes = int(minutes) * bays.get(workshop.pk, 0)


# --- the bookings list of an export -------------------------------------------------------


BOOKING_LIST_FIELDS = (
    "id", "workshop_id", "workshop__name", "created_at", "starts_at", "ends_at", "status", "channel",
    "service__name", "client_id", "client__name",
)


def report_bookings(*, workshops: Sequence[Workshop], period: Period, chunk_size: int = 2000) -> Iterator[tuple]:
    """The bookings of the period, streamed: in it (``_booking_in_period``), or cancelled or no-show in it.

    Yields tuples of ``BOOKING_LIST_FIELDS`` ordered by start, read in chunks through a
    server-side cursor so a year of a busy company never sits in memory at once.
    """
    workshops = list(workshops)
    if not workshops:
        return iter(())
    scope = _Scope.of(workshops, period)
    moved = BookingHistory.objects.filter(
        scope.in_period("at", "booking__workshop_id"), event=BookingEvent.STATUS, to_status__in=_MOVED_TO
    ).values("booking_id")
    bookings = Booking.objects.filter(_booking_in_period(scope) | Q(pk__in=moved))
    return bookings.order_by("starts_at", "id").values_list(*BOOKING_LIST_FIELDS).iterator(chunk_size=chunk_size)


def local_naive(moment: datetime, tz: ZoneInfo) -> datetime:
    """An aware moment as the branch's wall-clock time (spreadsheets have no time zones)."""
    return moment.astimezone(tz).replace(tzinfo=None)

