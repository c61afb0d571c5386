"""Reads for owner reports: who may see which branches, and the figures of DESIGN §4.

Every figure is counted in SQL over the period ``[start, end)`` taken in each branch's own
time zone (a branch in Novosibirsk and one in Moscow each count their own local dates).
Three grouped queries, each aggregating every breakdown (total, branch, local day, service,
channel) in one pass: bookings created in the period; bookings moved to «cancelled» /
«no-show» in it (from the status history); and the bookings of the period with their
clients — completed visits, clients who came, returning ones (``Client.first_visit_at``),
clients with a booking, Telegram-linked ones. A detailed report costs about a dozen queries
whatever the period; ``detail=False`` (the comparison period) six.
"""

from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import connection, transaction
from django.db.models import (
    BooleanField,
    Case,
    Count,
    DateField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    When,
)
from django.db.models.functions import TruncDate
from django.http import HttpRequest

from bookings.availability import load_schedule
from bookings.models import (
    Booking,
    BookingChannel,
    BookingEvent,
    BookingHistory,
    BookingStatus,
)
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


def request_sees_reports(request: HttpRequest) -> bool:
    """Sidebar permission callback for the owner dashboard."""
    return user_sees_reports(request.user)


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
    with _report_transaction():
        _add_created(report, scope, detail)
        _add_moved(report, scope, detail)
        _add_clients(report, scope, detail)
        if detail:
            _add_occupancy(report, scope)
            report.service_names = dict(
                Service.objects.filter(pk__in=report.by_service).values_list("id", "name")
            )
    return report


@contextmanager
def _report_transaction() -> Iterator[None]:
    """The report's queries in one transaction; on PostgreSQL, planned without JIT or parallel workers.

    PostgreSQL JIT-compiles any query whose estimated cost passes ``jit_above_cost``, and
    these short aggregates over a month of a large table do: compiling took ~100 ms per
    query, several times the query itself. Parallel workers cost their start-up and turn
    hash aggregates into sorts on text keys, for scans of a few tens of thousands of rows
    (both measured in benchmarks/bench_reports.py). ``SET LOCAL`` ends with the transaction.
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off; SET LOCAL max_parallel_workers_per_gather = 0")
        yield


def _zero_clients(figures: Figures, *, booked: bool = True) -> Figures:
    figures.visited_clients = figures.returning_clients = 0
    if booked:
        figures.booked_clients = figures.telegram_clients = 0
    return figures


# Columns the grouped report rows may carry, with their SQL types (for typed NULLs).
_KEY_TYPES = {"w_id": "integer", "local_day": "date", "chan": "varchar(20)", "svc": "integer", "st": "varchar(20)"}
_DETAIL = (("w_id",), ("local_day",), ("svc",), ("chan",))

Grouping = tuple[str, ...]


@dataclass(frozen=True)
class _Aggregation:
    """Figures (``aggregates``: name → SQL over the row columns) computed for each of
    ``groupings``, over the rows that meet ``where`` (SQL; all rows when empty)."""

    groupings: Sequence[Grouping]
    aggregates: dict[str, str]
    where: str = ""


def _grouping_sets(rows: QuerySet, aggregations: Sequence[_Aggregation]
                   ) -> Iterator[tuple[Grouping, dict[str, object], dict[str, int]]]:
    """Run ``aggregations`` over ``rows`` in one query; yields ``(grouping, keys, values)``.

    ``rows`` is a ``values()`` queryset selecting the key columns of ``_KEY_TYPES`` the
    groupings use and the columns the aggregates and conditions read; ``values`` holds the
    figures of the grouping's aggregation. On PostgreSQL each aggregation is one select with
    ``GROUPING SETS`` (one pass over the rows for all its groupings, hash tables at once where
    no aggregate is ``DISTINCT``); SQLite (the demo runs on it) has none, so there each
    grouping is a ``GROUP BY`` of its own. The selects are joined with ``UNION ALL`` over the
    rows computed once (a CTE).
    """
    inner, params = rows.order_by().query.sql_with_params()
    columns = [c for c in _KEY_TYPES if any(c in g for a in aggregations for g in a.groupings)]
    names = list(dict.fromkeys(name for a in aggregations for name in a.aggregates))
    native = connection.vendor == "postgresql"
    selects: list[str] = []
    found: dict[tuple[int, int], tuple[_Aggregation, Grouping]] = {}
    for index, aggregation in enumerate(aggregations):
        where = f" WHERE {aggregation.where}" if aggregation.where else ""
        figures = ", ".join(
            f"{aggregation.aggregates[n]} AS {n}" if n in aggregation.aggregates else f"CAST(NULL AS bigint) AS {n}"
            for n in names
        )
        own = [c for c in columns if any(c in grouping for grouping in aggregation.groupings)]
        if native and own:
            # GROUPING() is a bit mask of the columns a row is *not* grouped by, the first the highest bit.
            for grouping in aggregation.groupings:
                mask = sum(1 << (len(own) - 1 - i) for i, c in enumerate(own) if c not in grouping)
                found[(index, mask)] = (aggregation, grouping)
            sets = ", ".join(f"({', '.join(grouping)})" for grouping in aggregation.groupings)
            keys = "".join(f"{c}, " if c in own else f"CAST(NULL AS {_KEY_TYPES[c]}), " for c in columns)
            selects.append(f"SELECT {index}, GROUPING({', '.join(own)}), {keys}{figures} "
                           f"FROM report_rows{where} GROUP BY GROUPING SETS ({sets})")
            continue
        for number, grouping in enumerate(aggregation.groupings):
            found[(index, number)] = (aggregation, grouping)
            # Typed NULLs: UNION ALL resolves each column's type from its first branches.
            keys = "".join(f"{c}, " if c in grouping else f"CAST(NULL AS {_KEY_TYPES[c]}), " for c in columns)
            group_by = f" GROUP BY {', '.join(grouping)}" if grouping else ""
            selects.append(f"SELECT {index}, {number}, {keys}{figures} FROM report_rows{where}{group_by}")
    # PostgreSQL computes a CTE read once in place; read by several selects, it is kept once.
    materialized = " MATERIALIZED" if native and len(selects) > 1 else ""
    sql = f"WITH report_rows AS{materialized} ({inner}) " + " UNION ALL ".join(selects)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for row in cursor.fetchall():
            aggregation, grouping = found[(row[0], row[1])]
            keys = dict(zip(columns, row[2:2 + len(columns)]))
            if isinstance(keys.get("local_day"), str):  # SQLite returns dates as text
                keys["local_day"] = date.fromisoformat(keys["local_day"])
            values = dict(zip(names, row[2 + len(columns):]))
            yield grouping, keys, {name: values[name] or 0 for name in aggregation.aggregates}


def _store(report: Report, grouping: tuple[str, ...], keys: dict[str, object], values: dict[str, int]) -> None:
    """Put one grouping's figures where the report keeps them."""
    if not grouping:
        figures = report.total
    elif grouping == ("w_id",):
        figures = report.by_branch.get(keys["w_id"])
    elif grouping == ("local_day",):
        figures = report.by_day.get(keys["local_day"])
    elif grouping == ("svc",):
        figures = report.by_service.setdefault(keys["svc"], Figures())
    elif grouping == ("chan",):
        figures = report.by_channel.setdefault(keys["chan"], Figures())
    elif grouping == ("local_day", "chan"):
        report.new_by_day_channel[(keys["local_day"], keys["chan"])] = values["new"]
        return
    elif grouping == ("st",):
        report.funnel[keys["st"]] = values["new"]
        return
    else:
        raise ValueError(grouping)
    if figures is not None:  # a day or branch outside the report (none, by construction)
        for name, value in values.items():
            setattr(figures, name, value)


def _flag(condition: Q) -> ExpressionWrapper:
    return ExpressionWrapper(condition, output_field=BooleanField())


def _add_created(report: Report, scope: _Scope, detail: bool) -> None:
    """New bookings (created in the period, not imported), the ones that ever reached «confirmed», via Telegram."""
    ever_confirmed = Q(status__in=_CONFIRMED_OR_LATER) | Q(
        Exists(BookingHistory.objects.filter(booking=OuterRef("pk"), to_status=BookingStatus.CONFIRMED)),
        status=BookingStatus.CANCELLED,
    )
    rows = (
        Booking.objects.filter(scope.in_period("created_at")).exclude(channel=BookingChannel.IMPORT)
        .annotate(w_id=F("workshop_id"), local_day=scope.local_date("created_at"), chan=F("channel"),
                  svc=F("service_id"), st=F("status"), confirmed=_flag(ever_confirmed))
        .values("w_id", "local_day", "chan", "svc", "st", "confirmed")
    )
    groupings = [(), *_DETAIL, ("local_day", "chan"), ("st",)] if detail else [()]
    aggregates = {
        "new": "COUNT(*)",
        "confirmed": "SUM(CASE WHEN confirmed THEN 1 ELSE 0 END)",
        "telegram_new": f"SUM(CASE WHEN chan = '{BookingChannel.TELEGRAM}' THEN 1 ELSE 0 END)",
    }
    for grouping, keys, values in _grouping_sets(rows, [_Aggregation(groupings, aggregates)]):
        _store(report, grouping, keys, values)


def _add_moved(report: Report, scope: _Scope, detail: bool) -> None:
    """Bookings moved to «cancelled» / «no_show» in the period, whenever they were created.

    Each history row needs its booking's branch, channel and service: looked up index-only
    in ``booking_report_covering_idx`` (reports migration 0002).
    """
    rows = (
        BookingHistory.objects.filter(
            scope.in_period("at", "booking__workshop_id"), event=BookingEvent.STATUS, to_status__in=_MOVED_TO
        )
        .annotate(w_id=F("booking__workshop_id"), local_day=scope.local_date("at", "booking__workshop_id"),
                  chan=F("booking__channel"), svc=F("booking__service_id"), b_id=F("booking_id"),
                  st=F("to_status"))
        .values("w_id", "local_day", "chan", "svc", "b_id", "st")
    )
    aggregates = {
        "cancelled": f"COUNT(DISTINCT CASE WHEN st = '{BookingStatus.CANCELLED}' THEN b_id END)",
        "no_show": f"COUNT(DISTINCT CASE WHEN st = '{BookingStatus.NO_SHOW}' THEN b_id END)",
    }
    for grouping, keys, values in _grouping_sets(rows, [_Aggregation([(), *_DETAIL] if detail else [()], aggregates)]):
        _store(report, grouping, keys, values)


def _add_clients(report: Report, scope: _Scope, detail: bool) -> None:
    """Completed visits and the figures about clients, in one pass over the bookings of the period.

    * completed visits: status «completed», the visit starts in the period (imported ones too);
    * clients with a visit, and the returning ones among them: a visit is a return when the
      client's first completed visit anywhere in the company (``Client.first_visit_at``, kept
      by the booking services; imported history counts) started before it. So a client new
      to the shop who comes twice in the period is returning on the second visit;
    * clients with any booking in the period (``_booking_in_period``; visits are among
      those bookings), and the ones linked to Telegram.

    One join to the clients serves both client flags.
    """
    visit = scope.in_period("starts_at") & Q(status=BookingStatus.COMPLETED)
    rows = (
        Booking.objects.filter(_booking_in_period(scope))
        .annotate(
            c_id=F("client_id"), w_id=F("workshop_id"), chan=F("channel"), svc=F("service_id"),
            local_day=scope.local_date("starts_at"), visit=_flag(visit),
            came_back=_flag(visit & Q(client__first_visit_at__lt=F("starts_at"))),
            on_telegram=_flag(Q(client__telegram_user_id__isnull=False)),
        )
        .values("c_id", "w_id", "chan", "svc", "local_day", "visit", "came_back", "on_telegram")
    )
    visited = {
        "completed": "SUM(CASE WHEN visit THEN 1 ELSE 0 END)",
        "visited_clients": "COUNT(DISTINCT CASE WHEN visit THEN c_id END)",
        "returning_clients": "COUNT(DISTINCT CASE WHEN came_back THEN c_id END)",
    }
    booked = {
        "booked_clients": "COUNT(DISTINCT c_id)",
        "telegram_clients": "COUNT(DISTINCT CASE WHEN on_telegram THEN c_id END)",
    }
    if not detail:
        aggregations = [_Aggregation([()], visited | booked)]
    else:
        # Client counts are distinct, so each breakdown is counted on its own; days, services
        # and channels count visits only, so they read only the visits.
        aggregations = [
            _Aggregation([(), ("w_id",)], visited | booked),
            _Aggregation([("local_day",)], {"completed": "COUNT(*)", "visited_clients": "COUNT(DISTINCT c_id)",
                                            "returning_clients": visited["returning_clients"]}, where="visit"),
            _Aggregation([("svc",), ("chan",)], {"completed": "COUNT(*)"}, where="visit"),
        ]
    for grouping, keys, values in _grouping_sets(rows, aggregations):
        _store(report, grouping, keys, values)


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

