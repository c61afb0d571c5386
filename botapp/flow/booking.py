"""The booking steps: branch → service → car → date → time → comment → summary → «Подтвердить».

Rescheduling (``botapp.flow.mine``) reuses date → time → summary with ``mode = "resched"``.
Every screen lists the args its buttons may carry (``enter(..., options)``) and the
router refuses any other, so a button can only choose what was offered; the engine
checks the rest (the slot is still free, the car is the client's) when booking.
"""

import re
from contextlib import nullcontext
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from bookings.availability import booking_window, slots_available
from bookings.errors import BookingRuleError, SlotTaken, TransitionNotAllowed
from bookings.models import Booking, BookingChannel
from bookings.services import booking_create, booking_reschedule
from botapp import callbacks, catalog, keyboards, selectors
from botapp.flow.core import (
    SCREENS,
    Out,
    Reply,
    Turn,
    enter,
    on_back,
    on_button,
    on_text,
    screen,
    session_reset,
    show,
)
from botapp.texts import MONTHS_NOMINATIVE, WEEKDAYS, clean_typed, day_label, duration, moment_label, price_from, render
from clients.models import Client, Vehicle
from clients.normalize import normalize_plate, normalize_vin
from clients.selectors import vin_of_another_client
from clients.services import vehicle_add
from workshops.errors import DomainError
from workshops.models import Service, Workshop

TELEGRAM = BookingChannel.TELEGRAM
ACTOR = "Клиент (Telegram)"
COMMENT_LIMIT = 500
MAKE_MODEL_LIMIT = 100
CALENDAR_WEEKS = 5
STAMP = "%Y%m%d%H%M"


# --- helpers --------------------------------------------------------------------------
def stamp(moment: datetime, tz: ZoneInfo) -> str:
    """A start time as button data: local ``YYYYMMDDHHMM`` of the branch."""
    return moment.astimezone(tz).strftime(STAMP)


def local_at(turn: Turn, value: str | None = None) -> datetime:
    """The chosen (or given) ``YYYYMMDDHHMM`` as an aware datetime in the branch's zone."""
    return datetime.strptime(value or turn.data["at"], STAMP).replace(tzinfo=ZoneInfo(turn.data["ws_tz"]))


def chosen(turn: Turn, *, fresh: bool = False) -> tuple[Workshop, Service]:
    """The chosen branch and service: from the catalog for screens, ``fresh`` from the database to book."""
    if fresh:
        workshop, service = selectors.active_workshop(turn.data.get("ws")), selectors.active_service(turn.data.get("sv"))
    else:
        workshop, service = catalog.workshop(turn.data.get("ws")), catalog.service(turn.data.get("sv"))
    if workshop is None or service is None:
        raise DomainError(render("catalog_gone"), code="catalog_gone")
    return workshop, service


def remember_branch(turn: Turn, workshop: Workshop) -> None:
    turn.data.update(
        ws=workshop.pk, ws_name=workshop.name, ws_address=workshop.address, ws_phone=workshop.phone,
        ws_tz=workshop.timezone,
    )


def remember_service(turn: Turn, service: Service) -> None:
    turn.data.update(
        sv=service.pk, sv_name=service.name, sv_minutes=service.duration_minutes,
        sv_price=str(service.price_from) if service.price_from is not None else "",
    )


def service_label(name: str, minutes: int, price: object) -> str:
    parts = [name, duration(minutes)] + ([price_from(price)] if price not in (None, "") else [])
    return " · ".join(parts)


def is_reschedule(turn: Turn) -> bool:
    return turn.data.get("mode") == "resched"


# --- start ----------------------------------------------------------------------------
def begin(turn: Turn) -> list[Out]:
    """Start a booking for the linked client: the branch (when several) or straight to the service."""
    client_id = turn.data.get("client_id")
    session_reset(turn)
    turn.data.update(mode="book", client_id=client_id)
    return SCREENS["branch"](turn)


def book(turn: Turn) -> Reply:
    """«Записаться» in the menu: consent and contact first if missing."""
    from botapp.flow.start import consent_screen, has_consent

    if not has_consent(turn):
        return Reply(consent_screen(turn))
    client = selectors.client_for_telegram(turn.user.id)
    if client is None:
        return show(turn, "contact")
    turn.data["client_id"] = client.pk
    return Reply(begin(turn))


# --- branch -------------------------------------------------------------------------------
@screen("branch")
def branch_screen(turn: Turn) -> list[Out]:
    branches = catalog.branches()
    turn.data["branches"] = len(branches)
    if not branches:
        session_reset(turn)
        return [Out(render("no_branches"), keyboards.menu())]
    if len(branches) == 1:
        remember_branch(turn, branches[0])
        return SCREENS["service"](turn)
    step = enter(turn, "branch", [branch.pk for branch in branches])
    options = [(" — ".join(filter(None, [branch.name, branch.address])), branch.pk) for branch in branches]
    return [Out(render("branch"), keyboards.choices(step, "br", options))]


@on_button("branch", "br")
def branch_chosen(turn: Turn, arg: str) -> Reply:
    """A branch: then its services."""
    workshop = catalog.workshop(int(arg))
    if workshop is None:
        return show(turn, "branch", answer=render("answer_gone"))
    remember_branch(turn, workshop)
    return show(turn, "service")


@on_back("branch")
def branch_back(turn: Turn) -> Reply:
    from botapp.flow.start import leave

    return leave(turn)


# --- service ------------------------------------------------------------------------------
@screen("service")
def service_screen(turn: Turn) -> list[Out]:
    services = catalog.services(turn.data["ws"])
    step = enter(turn, "service", [service.pk for service in services])
    turn.data["services"] = {
        str(s.pk): [s.name, s.duration_minutes, str(s.price_from) if s.price_from is not None else ""]
        for s in services
    }
    options = [(service_label(s.name, s.duration_minutes, s.price_from), s.pk) for s in services]
    text = render("service", branch=turn.data["ws_name"], empty=not services, several=turn.data.get("branches", 1) > 1)
    return [Out(text, keyboards.choices(step, "sv", options))]


@on_button("service", "sv")
def service_chosen(turn: Turn, arg: str) -> Reply:
    """A service: then the car."""
    name, minutes, price = turn.data.pop("services")[arg]
    turn.data.update(sv=int(arg), sv_name=name, sv_minutes=minutes, sv_price=price)
    return show(turn, "car")


@on_back("service")
def service_back(turn: Turn) -> Reply:
    if turn.data.get("branches", 1) > 1:
        return show(turn, "branch")
    return branch_back(turn)


# --- car ----------------------------------------------------------------------------------
@screen("car")
def car_screen(turn: Turn) -> list[Out]:
    cars = selectors.vehicles_of(turn.data["client_id"])
    step = enter(turn, "car", [car.pk for car in cars] + ["new"])
    turn.data["cars"] = {str(car.pk): str(car) for car in cars}
    other = keyboards.button("🚗 Другой автомобиль" if cars else "🚗 Указать автомобиль", callbacks.step(step, "car", "new"))
    markup = keyboards.choices(step, "car", [(str(car), car.pk) for car in cars], extra=[other])
    return [Out(render("car", has_cars=bool(cars), service=turn.data["sv_name"]), markup)]


@on_button("car", "car")
def car_chosen(turn: Turn, arg: str) -> Reply:
    """One of the client's cars (then the date), or «другой автомобиль» (then the plate)."""
    cars = turn.data.pop("cars", {})
    for key in ("car", "plate", "vin", "make", "model"):
        turn.data.pop(key, None)
    if arg == "new":
        return show(turn, "plate")
    turn.data.update(car=int(arg), car_label=cars.get(arg, ""))
    return show(turn, "date")


@on_back("car")
def car_back(turn: Turn) -> Reply:
    return show(turn, "service")


@screen("plate")
def plate_screen(turn: Turn) -> list[Out]:
    """Asks for the plate or VIN; after a refused VIN (and on every redraw since) also offers to book without a car."""
    step = enter(turn, "plate")
    offer = turn.data.get("vin_refused")
    skip = [keyboards.button("Продолжить без автомобиля", callbacks.step(step, "nocar"))] if offer else []
    return [Out(render("plate"), keyboards.only_back(step, *skip))]


def read_car_identity(typed: str) -> tuple[str, str]:
    """(plate, vin) from what the client typed: 17 characters are a VIN, anything else a plate."""
    if len(re.sub(r"[\s-]", "", typed)) == 17:
        return "", normalize_vin(typed)
    return normalize_plate(typed), ""


@on_text("plate")
def plate_typed(turn: Turn, text: str) -> Reply:
    """The plate (or VIN) of another car, normalised like everywhere else."""
    try:
        plate, vin = read_car_identity(clean_typed(text)[:64])
    except DomainError as exc:
        return show(turn, "plate", Out(render("plate_invalid", error=exc.message)))
    # The engine refuses a VIN already on another client's card; say so now, not at «Подтвердить».
    if vin and vin_of_another_client(vin, turn.data["client_id"]):
        return vin_taken(turn)
    turn.data.pop("vin_refused", None)
    turn.data.update(plate=plate, vin=vin)
    return show(turn, "model")


def forget_car(turn: Turn) -> None:
    """Drop the car chosen or typed so far."""
    for key in ("car", "plate", "vin", "make", "model", "car_label"):
        turn.data.pop(key, None)


def vin_taken(turn: Turn, *, answer: str = "", in_place: bool = True) -> Reply:
    """The VIN is another client's car: ask for another VIN or the plate, or go on without the car.

    Says nothing of whose card it is on; the branch's phone is for a client whose car it really is.
    """
    forget_car(turn)
    turn.data["vin_refused"] = True
    notice = Out(render("vin_taken", phone=turn.data.get("ws_phone", "")))
    return Reply([notice, *plate_screen(turn)], answer=answer, in_place=in_place)


@on_button("plate", "nocar", option=False)
def plate_skipped(turn: Turn, arg: str) -> Reply:
    """«Продолжить без автомобиля» (offered after a refused VIN): book without a car."""
    forget_car(turn)
    turn.data.pop("vin_refused", None)
    return show(turn, "date")


@on_back("plate")
def plate_back(turn: Turn) -> Reply:
    return show(turn, "car")


@screen("model")
def model_screen(turn: Turn) -> list[Out]:
    step = enter(turn, "model")
    skip = keyboards.button("Пропустить", callbacks.step(step, "skip"))
    return [Out(render("model", plate=turn.data.get("plate"), vin=turn.data.get("vin")), keyboards.only_back(step, skip))]


def remember_new_car(turn: Turn, make: str, model: str) -> None:
    turn.data.update(make=make, model=model)
    turn.data["car_label"] = " ".join(filter(None, [make, model, turn.data.get("plate") or turn.data.get("vin")]))


@on_text("model")
def model_typed(turn: Turn, text: str) -> Reply:
    """Make and model in one line («Kia Rio»): the first word is the make."""
    typed = clean_typed(text)
    if not typed or len(typed) > MAKE_MODEL_LIMIT or not any(ch.isalnum() for ch in typed):
        return show(turn, "model", Out(render("model_invalid", limit=MAKE_MODEL_LIMIT)))
    make, _, model = typed.partition(" ")
    remember_new_car(turn, make, model)
    return show(turn, "date")


@on_button("model", "skip", option=False)
def model_skipped(turn: Turn, arg: str) -> Reply:
    remember_new_car(turn, "", "")
    return show(turn, "date")


@on_back("model")
def model_back(turn: Turn) -> Reply:
    return show(turn, "plate")


# --- date -----------------------------------------------------------------------------------
def telegram_priority(workshop: Workshop) -> dict[str, object]:
    """What Telegram clients get over other channels at this branch (extra days, shorter lead)."""
    shorter = workshop.telegram_min_lead_minutes
    return {
        "extra_days": workshop.telegram_extra_days,
        "lead": duration(shorter) if shorter is not None and shorter < workshop.min_lead_minutes else "",
        "usual_lead": duration(workshop.min_lead_minutes),
    }


@screen("date")
def date_screen(turn: Turn) -> list[Out]:
    """The calendar of the horizon; only days with a free start are offered."""
    workshop, service = chosen(turn)
    slots = slots_available(
        workshop=workshop, service=service, days=workshop.horizon_days + workshop.telegram_extra_days,
        channel=TELEGRAM, exclude_booking_id=turn.data.get("booking"),
    )
    days = sorted({slot.starts_at.astimezone(workshop.tz).date() for slot in slots})
    today = timezone.now().astimezone(workshop.tz).date()
    last_day = booking_window(workshop=workshop, channel=TELEGRAM).last_day
    turn.data["cal"] = [today.isoformat(), last_day.isoformat()]
    turn.data["cal_text"] = render(
        "date", empty=not days, days=(last_day - today).days + 1, phone=workshop.phone,
        service=turn.data["sv_name"], **telegram_priority(workshop),
    )
    return [calendar(turn, [day.strftime("%Y%m%d") for day in days])]


def calendar(turn: Turn, days: list[str], page: int | None = None) -> Out:
    """Weeks Monday to Sunday, ``CALENDAR_WEEKS`` a page; offered ``days`` (``YYYYMMDD``) are numbers, the rest «·».

    Opens on the page with the first free day unless ``page`` is given.
    """
    first, last = (date.fromisoformat(value) for value in turn.data["cal"])
    monday = first - timedelta(days=first.weekday())
    pages = max(1, -(-((last - monday).days // 7 + 1) // CALENDAR_WEEKS))
    if page is None:
        first_free = datetime.strptime(days[0], "%Y%m%d").date() if days else first
        page = min((first_free - monday).days // 7 // CALENDAR_WEEKS, pages - 1)
    step = enter(turn, "date", days + [f"p{index}" for index in range(pages)])  # see is_page
    page_start = monday + timedelta(weeks=page * CALENDAR_WEEKS)
    page_end = min(page_start + timedelta(weeks=CALENDAR_WEEKS, days=-1), last + timedelta(days=6 - last.weekday()))
    rows = [
        [keyboards.noop(month_title(page_start, min(page_end, last)))],
        [keyboards.noop(weekday.capitalize()) for weekday in WEEKDAYS],
        *calendar_weeks(step, page_start, page_end, set(days)),
        calendar_pager(step, page, pages),
        [keyboards.back_button(step)],
    ]
    return Out(turn.data["cal_text"], keyboards.inline(rows))


def calendar_weeks(step: int, start: date, end: date, offered: set[str]) -> list[list]:
    """Rows of seven days from Monday ``start`` to Sunday ``end``."""
    cells, day = [], start
    while day <= end:
        key = day.strftime("%Y%m%d")
        cells.append(keyboards.button(str(day.day), callbacks.step(step, "day", key)) if key in offered
                     else keyboards.noop("·"))
        day += timedelta(days=1)
    return [cells[index:index + 7] for index in range(0, len(cells), 7)]


def calendar_pager(step: int, page: int, pages: int) -> list:
    buttons = []
    if page > 0:
        buttons.append(keyboards.button("‹ Раньше", callbacks.step(step, "pg", f"p{page - 1}")))
    if page < pages - 1:
        buttons.append(keyboards.button("Позже ›", callbacks.step(step, "pg", f"p{page + 1}")))
    return buttons


def month_title(start: date, end: date) -> str:
    if (start.year, start.month) == (end.year, end.month):
        return f"{MONTHS_NOMINATIVE[start.month - 1]} {start.year}"
    return f"{MONTHS_NOMINATIVE[start.month - 1]} — {MONTHS_NOMINATIVE[end.month - 1]} {end.year}"


def is_page(option: str) -> bool:
    """Whether a calendar's offered arg is a page (``p<N>``) rather than a day (``YYYYMMDD``)."""
    return option.startswith("p")


@on_button("date", "pg")
def calendar_paged(turn: Turn, arg: str) -> Reply:
    """Another page of the same calendar (drawn from what the screen offered: no queries)."""
    if not is_page(arg):  # the offered args hold days and pages: a day is no page (edited data)
        return Reply(answer=render("answer_stale"))
    days = [option for option in turn.data["opts"] if not is_page(option)]
    return Reply([calendar(turn, days, page=int(arg[1:]))])


@on_button("date", "day")
def day_chosen(turn: Turn, arg: str) -> Reply:
    """A day: then its free start times."""
    if is_page(arg):  # a page marker is no day (edited data)
        return Reply(answer=render("answer_stale"))
    turn.data["day"] = arg
    return show(turn, "time")


@on_back("date")
def date_back(turn: Turn) -> Reply:
    if is_reschedule(turn):
        session_reset(turn)
        return Reply([Out(render("resched_left"), keyboards.menu())])
    if turn.data.get("car") is None and (turn.data.get("plate") or turn.data.get("vin")):
        return show(turn, "model")
    return show(turn, "car")


# --- time ------------------------------------------------------------------------------------
@screen("time")
def time_screen(turn: Turn) -> list[Out]:
    """Only free start times of the chosen day; a day that filled up meanwhile goes back to the calendar."""
    workshop, service = chosen(turn)
    day = datetime.strptime(turn.data["day"], "%Y%m%d").date()
    slots = slots_available(
        workshop=workshop, service=service, date_from=day, days=1, channel=TELEGRAM,
        exclude_booking_id=turn.data.get("booking"),
    )
    slots = [slot for slot in slots if slot.starts_at.astimezone(workshop.tz).date() == day]
    if not slots:
        # A calendar left open overnight offers yesterday: that day is past, not full.
        past = day < timezone.now().astimezone(workshop.tz).date()
        return [Out(render("day_past" if past else "day_full", day=day_label(day))), *date_screen(turn)]
    stamps = [stamp(slot.starts_at, workshop.tz) for slot in slots]
    step = enter(turn, "time", stamps)
    options = [(f"{slot.starts_at.astimezone(workshop.tz):%H:%M}", key) for slot, key in zip(slots, stamps)]
    markup = keyboards.choices(step, "tm", options, per_row=4)
    return [Out(render("time", day=day_label(day), service=turn.data["sv_name"]), markup)]


@on_button("time", "tm")
def time_chosen(turn: Turn, arg: str) -> Reply:
    """A start time: then the comment, unless already answered (a reschedule goes straight to the summary).

    A time already past (a list left open overnight) is refused at once, with the day's current times.
    """
    if (at := local_at(turn, arg)) <= timezone.now():
        return show(turn, "time", Out(render("time_past", when=moment_label(at))))
    turn.data["at"] = arg
    turn.data["day"] = arg[:8]
    return show(turn, "summary" if is_reschedule(turn) or "comment" in turn.data else "comment")


@on_back("time")
def time_back(turn: Turn) -> Reply:
    return show(turn, "date")


def slot_taken(turn: Turn, exc: SlotTaken) -> Reply:
    """The time went meanwhile: say so and offer the nearest free times as buttons."""
    tz = ZoneInfo(turn.data["ws_tz"])
    lost = moment_label(local_at(turn))
    if not exc.alternatives:
        return show(turn, "date", Out(render("slot_taken", lost=lost, alternatives=False)), in_place=False)
    stamps = [stamp(moment, tz) for moment in exc.alternatives]
    step = enter(turn, "time", stamps)
    options = [(moment_label(moment.astimezone(tz)), key) for moment, key in zip(exc.alternatives, stamps)]
    other = keyboards.button("🗓 Другой день", callbacks.step(step, "back"))
    markup = keyboards.choices(step, "tm", options, per_row=2, extra=[other], back=False)
    return Reply([Out(render("slot_taken", lost=lost, alternatives=True), markup)], answer=render("answer_slot_taken"))


# --- comment and summary -----------------------------------------------------------------
@screen("comment")
def comment_screen(turn: Turn) -> list[Out]:
    step = enter(turn, "comment")
    skip = keyboards.button("Без комментария", callbacks.step(step, "skip"))
    return [Out(render("comment", limit=COMMENT_LIMIT), keyboards.only_back(step, skip))]


@on_text("comment")
def comment_typed(turn: Turn, text: str) -> Reply:
    """An optional comment for the master, at most ``COMMENT_LIMIT`` characters."""
    comment = clean_typed(text)
    if len(comment) > COMMENT_LIMIT:
        return show(turn, "comment", Out(render("comment_too_long", limit=COMMENT_LIMIT, length=len(comment))))
    turn.data["comment"] = comment
    return show(turn, "summary")


@on_button("comment", "skip", option=False)
def comment_skipped(turn: Turn, arg: str) -> Reply:
    turn.data["comment"] = ""
    return show(turn, "summary")


@on_back("comment")
def comment_back(turn: Turn) -> Reply:
    return show(turn, "time")


@screen("summary")
def summary_screen(turn: Turn) -> list[Out]:
    """Everything chosen, with «Подтвердить»; no queries."""
    step = enter(turn, "summary")
    data = turn.data
    context = {
        "branch": data["ws_name"], "address": data["ws_address"], "service": data["sv_name"],
        "duration": duration(data["sv_minutes"]), "price": price_from(data["sv_price"] or None),
        "car": data.get("car_label", ""), "when": moment_label(local_at(turn)), "comment": data.get("comment", ""),
    }
    if is_reschedule(turn):
        context["old_when"] = moment_label(local_at(turn, data["old_at"]))
    label = "✅ Перенести" if is_reschedule(turn) else "✅ Подтвердить"
    markup = keyboards.inline([[keyboards.button(label, callbacks.step(step, "ok"))], [keyboards.back_button(step)]])
    return [Out(render("resched_summary" if is_reschedule(turn) else "summary", **context), markup)]


@on_back("summary")
def summary_back(turn: Turn) -> Reply:
    return show(turn, "time" if is_reschedule(turn) else "comment")


@on_button("summary", "ok", option=False)
def confirmed(turn: Turn, arg: str) -> Reply:
    """«Подтвердить»: the router holds the session row locked, so a second tap waits and finds the step gone."""
    if is_reschedule(turn):
        return confirm_reschedule(turn)
    return confirm_booking(turn)


def confirm_booking(turn: Turn) -> Reply:
    """Create the booking through the engine (channel telegram); a taken slot offers alternatives."""
    client = selectors.linked_client(turn.data.get("client_id"), turn.user.id)
    if client is None:
        session_reset(turn)
        return Reply([Out(render("relink"))], answer=render("answer_sorry"))
    workshop, service = chosen(turn, fresh=True)
    # A new car is added in the same savepoint as the booking, so a taken slot leaves no car behind.
    new_car = not turn.data.get("car") and bool(turn.data.get("plate") or turn.data.get("vin"))
    try:
        with transaction.atomic() if new_car else nullcontext():
            booking = booking_create(
                workshop=workshop, service=service, client=client, starts_at=local_at(turn), channel=TELEGRAM,
                vehicle=chosen_vehicle(turn, client), comment=turn.data.get("comment", ""), actor=ACTOR,
            )
    except SlotTaken as exc:
        return slot_taken(turn, exc)
    except DomainError as exc:
        if exc.code == "vin_taken":  # added to another client meanwhile: the car step, not the calendar
            return vin_taken(turn, answer=render("answer_sorry"), in_place=False)
        return show(turn, "date", Out(render("refused", error=exc.message)), in_place=False)
    finish(turn)
    markup = keyboards.booking_actions(booking.pk, reschedule=False)
    return Reply([Out(render("booked", **booking_context(booking)), markup)], answer=render("answer_booked"))


def finish(turn: Turn) -> None:
    """The summary's «Подтвердить» did its work: leave the flow, remembering which summary it was."""
    done_step = turn.session.step
    session_reset(turn)
    turn.data["done_step"] = done_step


def chosen_vehicle(turn: Turn, client: Client) -> Vehicle | None:
    """The car picked from the client's list (only if still theirs), or the new one, added now."""
    if turn.data.get("car"):
        return selectors.vehicle_of(client, turn.data["car"])
    if turn.data.get("plate") or turn.data.get("vin"):
        return vehicle_add(
            client=client, plate=turn.data.get("plate", ""), vin=turn.data.get("vin", ""),
            make=turn.data.get("make", ""), model=turn.data.get("model", ""),
        )
    return None


def confirm_reschedule(turn: Turn) -> Reply:
    """Move the booking through the engine, after checking again that it is this user's and still active."""
    booking = selectors.booking_of(turn.user.id, turn.data.get("booking", 0))
    if booking is None or not booking.is_active:
        session_reset(turn)
        return Reply([Out(render("resched_gone"), keyboards.menu())], answer=render("answer_gone"))
    if booking.has_started:  # the visit began while the client chose: the same rule as «Перенести»
        session_reset(turn)
        message = Out(render("resched_started", **booking_context(booking)), keyboards.menu())
        return Reply([message], answer=render("answer_booking_started"))
    try:
        booking = booking_reschedule(
            booking=booking, starts_at=local_at(turn), channel=TELEGRAM, actor=ACTOR, reason="Перенос клиентом в Telegram",
        )
    except SlotTaken as exc:
        return slot_taken(turn, exc)
    except TransitionNotAllowed as exc:
        session_reset(turn)
        return Reply([Out(render("refused", error=exc.message), keyboards.menu())])
    except BookingRuleError as exc:
        return show(turn, "date", Out(render("refused", error=exc.message)), in_place=False)
    booking = selectors.booking_of(turn.user.id, booking.pk)
    finish(turn)
    markup = keyboards.booking_actions(booking.pk)
    return Reply([Out(render("rescheduled", **booking_context(booking)), markup)], answer=render("answer_rescheduled"))


def booking_context(booking: Booking) -> dict[str, object]:
    """What templates say about a booking (times in the branch's zone)."""
    workshop = booking.workshop
    return {
        "booking": booking, "branch": workshop.name, "address": workshop.address, "phone": workshop.phone,
        "service": booking.service.name, "when": moment_label(booking.starts_at.astimezone(workshop.tz)),
        "car": str(booking.vehicle) if booking.vehicle_id else "", "status": booking.get_status_display(),
    }
