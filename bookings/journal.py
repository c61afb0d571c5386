"""The day journal (журнал записи): one branch, one day, bays × time, in the branch's local time.

A manager keeps it open all day: every booking is a block coloured by status; a click on
a booking opens it; a click on a free cell opens a small form that books a phone caller
into that bay and time through the engine. The page costs a constant number of queries
whatever the number of bookings: the user's branches, the bays, the day's schedule (one
UNION), the day's bookings with their clients, services and cars (one join), the
clients' phones and the services on offer.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch, Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from bookings.admin_forms import JournalBookingForm
from bookings.availability import DaySchedule, load_schedule
from bookings.models import ACTIVE_STATUSES, Booking, BookingStatus
from clients.models import ClientPhone
from clients.selectors import display_phone
from workshops.dates import parse_plausible
from workshops.models import Bay, Service, Workshop
from workshops.selectors import workshops_for_user

if TYPE_CHECKING:
    from bookings.admin import BookingAdmin

ROW_PX = 44  # height of one grid step on screen
MAX_BOOKING_SPAN = timedelta(days=1)  # no service lasts longer (Service.duration_minutes ≤ 24 h)
CLOSED_TEXT = {"closed_day": "Нерабочий день", "day_off": "Выходной по графику"}


@dataclass
class Block:
    """A booking drawn in its bay's column."""

    booking: Booking
    top: int
    height: int
    time_label: str
    phone: str
    url: str
    lane: int = 0
    lanes: int = 1

    @property
    def status_class(self) -> str:
        return f"status-{self.booking.status}"


@dataclass
class Cell:
    """A free grid step a caller can be booked into."""

    top: int
    height: int
    label: str
    url: str


@dataclass
class Column:
    bay: Bay
    blocks: list[Block] = field(default_factory=list)
    cells: list[Cell] = field(default_factory=list)


@dataclass
class Journal:
    workshop: Workshop
    day: date
    closed_text: str
    height: int
    marks: list[tuple[str, int]]
    shaded: list[tuple[int, int, str]]
    columns: list[Column]
    cancelled: list[Block]
    now_top: int | None


def build_journal(
    *,
    workshop: Workshop,
    day: date,
    schedule: DaySchedule,
    bays: list[Bay],
    bookings: list[Booking],
    now: datetime,
    cell_url,
    booking_url,
) -> Journal:
    """Lay out one day: grid from opening to closing (widened to fit any booking), blocks, free cells.

    ``cell_url(bay, local_time)`` and ``booking_url(booking)`` make the links; no queries here.
    """
    tz = workshop.tz
    step = timedelta(minutes=workshop.slot_step_minutes)
    day_start = datetime.combine(day, time(0), tzinfo=tz)
    day_end = day_start + timedelta(days=1)
    shown = [b for b in bookings if b.status != BookingStatus.CANCELLED]
    if schedule.intervals:
        start, end = schedule.intervals[0][0], schedule.intervals[-1][1]
    else:
        start, end = datetime.combine(day, time(9), tzinfo=tz), datetime.combine(day, time(18), tzinfo=tz)
    for booking in shown:
        start, end = min(start, booking.starts_at), max(end, booking.ends_at)
    start = max(start, day_start).astimezone(tz)
    end = min(end, day_end).astimezone(tz)
    if not schedule.intervals or start < schedule.intervals[0][0]:
        start = start.replace(minute=0, second=0, microsecond=0)  # a widened grid starts on the hour

    def y(moment: datetime) -> int:
        return round((moment - start) / step * ROW_PX)

    marks, moment = [], start
    while moment < end:
        marks.append((f"{moment.astimezone(tz):%H:%M}", y(moment)))
        moment += step
    shaded = _shaded(schedule, start, end, y)

    def block(booking: Booking) -> Block:
        starts, ends = booking.starts_at.astimezone(tz), booking.ends_at.astimezone(tz)
        phones = list(booking.client.phones.all())
        top = y(max(booking.starts_at, start))
        return Block(
            booking=booking, top=top, height=max(y(min(booking.ends_at, end)) - top, ROW_PX // 2),
            time_label=f"{starts:%H:%M}–{ends:%H:%M}", phone=display_phone(phones[0].number) if phones else "",
            url=booking_url(booking),
        )

    by_bay: dict[int, list[Booking]] = defaultdict(list)
    for booking in shown:
        by_bay[booking.bay_id].append(booking)
    columns = []
    for bay in bays:
        if not bay.is_active and not by_bay.get(bay.pk):
            continue
        column = Column(bay=bay, blocks=[block(b) for b in by_bay.get(bay.pk, [])])
        _assign_lanes(column.blocks)
        if bay.is_active:
            column.cells = _free_cells(
                schedule, by_bay.get(bay.pk, []), step, now, y, lambda moment, bay=bay: cell_url(bay, moment)
            )
        columns.append(column)

    now_top = y(now) if start <= now < end else None
    return Journal(
        workshop=workshop, day=day, closed_text=CLOSED_TEXT.get(schedule.closed_reason, ""),
        height=max(y(end), ROW_PX), marks=marks, shaded=shaded, columns=columns,
        cancelled=[block(b) for b in bookings if b.status == BookingStatus.CANCELLED], now_top=now_top,
    )


def _shaded(schedule: DaySchedule, start: datetime, end: datetime, y) -> list[tuple[int, int, str]]:
    """Bands where the branch does not work: before opening, breaks, after closing (or all day)."""
    if not schedule.intervals:
        return [(0, y(end), CLOSED_TEXT.get(schedule.closed_reason, "не работает"))]
    bands = []
    if start < schedule.intervals[0][0]:
        bands.append((0, y(schedule.intervals[0][0]), "нерабочее время"))
    for (_o, close), (reopen, _c) in zip(schedule.intervals, schedule.intervals[1:]):
        bands.append((y(close), y(reopen) - y(close), "перерыв"))
    if schedule.intervals[-1][1] < end:
        last = y(schedule.intervals[-1][1])
        bands.append((last, y(end) - last, "нерабочее время"))
    return bands


def _free_cells(schedule: DaySchedule, bookings: list[Booking], step, now, y, url) -> list[Cell]:
    """Grid steps inside working hours, not yet past, that no active booking of the bay covers."""
    busy = [(b.starts_at, b.ends_at) for b in bookings if b.status in ACTIVE_STATUSES]
    cells = []
    for open_at, close_at in schedule.intervals:
        moment = open_at  # aware, in the branch's time zone
        while moment + step <= close_at:
            if moment >= now and not any(s < moment + step and e > moment for s, e in busy):
                top = y(moment)
                cells.append(Cell(top=top, height=y(moment + step) - top, label=f"{moment:%H:%M}", url=url(moment.time())))
            moment += step
    return cells


def _assign_lanes(blocks: list[Block]) -> None:
    """Side by side when bookings overlap in one bay (a finished visit under a new one, imports)."""
    blocks.sort(key=lambda b: (b.booking.starts_at, b.booking.pk))
    cluster: list[Block] = []
    cluster_end = None
    for block in blocks + [None]:
        if block is None or (cluster_end is not None and block.booking.starts_at >= cluster_end):
            lane_ends: list[datetime] = []
            for member in cluster:
                for lane, lane_end in enumerate(lane_ends):
                    if lane_end <= member.booking.starts_at:
                        member.lane, lane_ends[lane] = lane, member.booking.ends_at
                        break
                else:
                    member.lane = len(lane_ends)
                    lane_ends.append(member.booking.ends_at)
            for member in cluster:
                member.lanes = len(lane_ends)
            cluster, cluster_end = [], None
        if block is not None:
            cluster.append(block)
            cluster_end = max(cluster_end, block.booking.ends_at) if cluster_end else block.booking.ends_at


# -- the view ------------------------------------------------------------------------------


def _parse_day(raw: str | None, workshop: Workshop) -> date:
    """The day asked for, or the branch's today when there is none (or nonsense, e.g. 9999-12-31)."""
    return parse_plausible(raw) or timezone.now().astimezone(workshop.tz).date()


def journal_view(model_admin: BookingAdmin, request: HttpRequest) -> HttpResponse:
    """GET: the grid (``?workshop=&day=``; ``&bay=&time=`` opens the booking form on a cell).

    POST: book a caller into a cell; on refusal the page comes back with the form and the
    engine's message, and nothing is written. A branch that is not the user's is a 404.
    """
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    workshops = list(workshops_for_user(request.user).order_by("name"))
    if not workshops:
        raise PermissionDenied("Вы не прикреплены ни к одному филиалу.")
    params = request.POST if request.method == "POST" else request.GET
    workshop = _pick_workshop(workshops, request.GET.get("workshop") or params.get("workshop"))
    day = _parse_day(request.GET.get("day") or params.get("day"), workshop)
    bays = list(Bay.objects.filter(workshop=workshop).select_related("workshop").order_by("position", "id"))
    can_book = model_admin.has_add_permission(request)

    def page_url(**extra) -> str:
        query = {"workshop": workshop.pk, "day": day.isoformat(), **extra}
        return f"{reverse('admin:bookings_booking_journal')}?{urlencode(query)}"

    form, form_bay, form_time = None, None, ""
    if request.method == "POST" or (request.GET.get("bay") and request.GET.get("time")):
        if not can_book:
            raise PermissionDenied
        form_bay = next((bay for bay in bays if str(bay.pk) == params.get("bay")), None)
        form_time = params.get("start_time") or params.get("time") or ""
        form = JournalBookingForm(
            request.POST if request.method == "POST" else None,
            initial={"bay": params.get("bay"), "start_time": form_time},
            workshop=workshop, services=_services_for(workshop, form_bay), bays=bays, day=day,
        )
        if form.is_bound and form.is_valid() and (booking := form.book(request.user)) is not None:
            starts = booking.starts_at.astimezone(workshop.tz)
            messages.success(
                request, f"Записали: {booking.client.name}, {booking.service.name}, {starts:%d.%m %H:%M}, {booking.bay.name}."
            )
            return HttpResponseRedirect(page_url())

    layout = build_journal(
        workshop=workshop, day=day,
        schedule=load_schedule(workshop=workshop, first_day=day, last_day=day)[day],
        bays=bays, bookings=_day_bookings(workshop, day), now=timezone.now(),
        cell_url=lambda bay, moment: page_url(bay=bay.pk, time=f"{moment:%H:%M}") if can_book else "",
        booking_url=lambda booking: reverse("admin:bookings_booking_change", args=[booking.pk]),
    )
    context = {
        **model_admin.admin_site.each_context(request),
        "title": "Журнал записи",
        "subtitle": f"{workshop.name}, {day:%d.%m.%Y}",
        "opts": model_admin.model._meta,
        "journal": layout,
        "workshops": workshops,
        "workshop": workshop,
        "day": day,
        "weekday": _WEEKDAYS[day.weekday()],
        "prev_url": _journal_url(workshop, day - timedelta(days=1)),
        "next_url": _journal_url(workshop, day + timedelta(days=1)),
        "today_url": _journal_url(workshop, None),
        "list_url": reverse("admin:bookings_booking_changelist") + f"?workshop__id__exact={workshop.pk}&day={day.isoformat()}",
        "form": form,
        "form_bay": form_bay,
        "form_time": form_time,
        "form_action": page_url(),
        "close_form_url": page_url(),
        "can_book": can_book,
        "row_px": ROW_PX,
        "is_fullwidth": "1",
    }
    return TemplateResponse(request, "admin/bookings/journal.html", context)


_WEEKDAYS = ["понедельник", "вторник", "среда", "четверг", "пятница", "суббота", "воскресенье"]


def _pick_workshop(workshops: list[Workshop], raw: str | None) -> Workshop:
    if not raw:
        return workshops[0]
    for workshop in workshops:
        if str(workshop.pk) == raw:
            return workshop
    raise Http404("Филиал не найден.")


def _services_for(workshop: Workshop, bay: Bay | None):
    """Services on offer at the branch that the clicked bay can take (any bay if the service needs none)."""
    services = Service.objects.filter(workshops=workshop, is_active=True).order_by("position", "name")
    if bay is not None:
        services = services.filter(Q(bay_kind="") | Q(bay_kind=bay.kind))
    return services


def _journal_url(workshop: Workshop, day: date | None) -> str:
    query = {"workshop": workshop.pk}
    if day is not None:
        query["day"] = day.isoformat()
    return f"{reverse('admin:bookings_booking_journal')}?{urlencode(query)}"


def _day_bookings(workshop: Workshop, day: date) -> list[Booking]:
    """The branch's bookings overlapping the local ``day`` (two queries: bookings, phones).

    The lower bound on ``starts_at`` (a day before) keeps the ``(workshop, starts_at)``
    index range short; no booking lasts longer than a day.
    """
    day_start = datetime.combine(day, time(0), tzinfo=workshop.tz)
    day_end = day_start + timedelta(days=1)
    return list(
        Booking.objects.filter(
            workshop=workshop,
            starts_at__gte=day_start - MAX_BOOKING_SPAN,
            starts_at__lt=day_end,
            ends_at__gt=day_start,
        )
        .select_related("client", "service", "vehicle")
        .prefetch_related(Prefetch("client__phones", queryset=ClientPhone.objects.order_by("position", "id")))
        .order_by("starts_at", "pk")
    )
