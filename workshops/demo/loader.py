"""Load the demo company: branches, services, ~200 clients with cars, a year of visits, bookings.

Everything that has a service goes through it (``client_get_or_create_by_phone``,
``vehicle_add``, ``booking_import_visit``, ``booking_create``, ``booking_transition``).
The exceptions are named where they happen: the engine refuses past times, so bookings
that took place since the system's launch are written as fixture rows of past state.
"""

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from bookings.availability import load_schedule, slots_available, suitable_bays_q
from bookings.errors import SlotTaken
from bookings.models import (
    Booking,
    BookingChannel,
    BookingEvent,
    BookingHistory,
    BookingStatus,
    Notification,
    NotificationState,
)
from bookings.services import (
    booking_create,
    booking_import_visit,
    booking_transition,
    clients_first_visit_refresh,
)
from clients.models import Client, ClientKind, Vehicle
from clients.services import client_get_or_create_by_phone, vehicle_add
from workshops.demo import data, people
from workshops.models import Bay, ClosedDay, Company, Service, WorkingHours, Workshop

CLIENTS = 200
HISTORY_DAYS = 365
# Before this many days ago the shop kept its book elsewhere: those visits are imported.
LAUNCHED_DAYS_AGO = 90
UPCOMING_DAYS = 10
UPCOMING_PER_DAY = {"moscow": 11, "ekb": 7}
TELEGRAM_ACTOR = "клиент (Telegram)"


@dataclass
class DemoClient:
    client: Client
    branch: str
    vehicles: list[Vehicle]
    telegram: bool


@dataclass
class Demo:
    """What the loader made, for the later steps to pick from."""

    now: datetime
    rng: random.Random
    branches: dict[str, Workshop] = field(default_factory=dict)
    services: dict[str, Service] = field(default_factory=dict)
    managers: dict[str, AbstractBaseUser | None] = field(default_factory=dict)
    clients: list[DemoClient] = field(default_factory=list)
    # bay id → (starts, ends) of the fixture rows written so far, so they never overlap.
    occupied: dict[int, list[tuple[datetime, datetime]]] = field(default_factory=lambda: defaultdict(list))


def load_structure(*, now: datetime) -> dict[str, Workshop]:
    """The company, its services and both branches with bays, hours and closed days."""
    Company.objects.create(**data.COMPANY)
    branches = {spec.slug: _create_branch(spec, now) for spec in data.BRANCHES}
    for position, spec in enumerate(data.SERVICES):
        service = Service.objects.create(
            name=spec.name, duration_minutes=spec.duration_minutes, price_from=spec.price_from,
            bay_kind=spec.bay_kind, return_interval_months=spec.return_interval_months, position=position,
        )
        service.workshops.set(
            [branches[b.slug] for b in data.BRANCHES if spec.name not in b.not_offered]
        )
    return branches


def _create_branch(spec: data.BranchSpec, now: datetime) -> Workshop:
    workshop = Workshop.objects.create(
        name=spec.name, slug=spec.slug, address=spec.address, phone=spec.phone, timezone=spec.timezone,
        manager_emails=spec.manager_emails,
    )
    for position, (name, kind) in enumerate(spec.bays):
        Bay.objects.create(workshop=workshop, name=name, kind=kind, position=position)
    for weekday, (opens, closes, break_starts, break_ends) in spec.hours.items():
        WorkingHours.objects.create(
            workshop=workshop, weekday=weekday, opens_at=opens, closes_at=closes,
            break_starts=break_starts, break_ends=break_ends,
        )
    today = now.astimezone(workshop.tz).date()
    for year in (today.year - 1, today.year, today.year + 1):
        for month, day, reason in data.HOLIDAYS:
            holiday = date(year, month, day)
            if abs((holiday - today).days) <= 370:
                ClosedDay.objects.create(workshop=workshop, date=holiday, reason=reason)
    # A closed working day in the next week or so, to show in the journal and in the bot.
    stocktaking = today + timedelta(days=4)
    while stocktaking.weekday() not in spec.hours or ClosedDay.objects.filter(workshop=workshop, date=stocktaking).exists():
        stocktaking += timedelta(days=1)
    ClosedDay.objects.create(workshop=workshop, date=stocktaking, reason="Инвентаризация склада")
    return workshop


def load_clients(demo: Demo) -> None:
    """~200 clients (a few companies) with phones and cars; about a third linked to Telegram."""
    rng = demo.rng
    spec_by_slug = {spec.slug: spec for spec in data.BRANCHES}
    companies = list(data.COMPANY_CLIENTS)
    while len(demo.clients) < CLIENTS:
        slug = rng.choices(["moscow", "ekb"], weights=[62, 38])[0]
        workshop = demo.branches[slug]
        is_company = bool(companies) and rng.random() < 0.04
        name = companies.pop() if is_company else people.person_name(rng)
        client, created = client_get_or_create_by_phone(phone=people.mobile_phone(rng), name=name, workshop=workshop)
        if not created:
            continue  # the made-up number happened to be taken: draw another
        if rng.random() < 0.05:  # a few clients use both branches
            client.workshops.add(*demo.branches.values())
        vehicles = [
            _add_vehicle(rng, client, spec_by_slug[slug]) for _ in range(2 if is_company or rng.random() < 0.12 else 1)
        ]
        telegram = rng.random() < 0.38
        _set_card_details(rng, client, is_company=is_company, telegram=telegram)
        demo.clients.append(DemoClient(client, slug, vehicles, telegram))


def _add_vehicle(rng: random.Random, client: Client, spec: data.BranchSpec) -> Vehicle:
    make, model, wmi, first_year = rng.choice(data.CARS)
    year = rng.randint(first_year, 2025)
    vin = people.vin(rng, wmi, year) if rng.random() < 0.35 else ""
    vehicle = vehicle_add(client=client, plate=people.plate(rng, spec.plate_regions), vin=vin, make=make, model=model)
    # Year and mileage have no service of their own (staff type them into the card).
    Vehicle.objects.filter(pk=vehicle.pk).update(year=year, mileage_km=rng.randrange(5, 250) * 1000)
    return vehicle


def _set_card_details(rng: random.Random, client: Client, *, is_company: bool, telegram: bool) -> None:
    """Fields staff or the bot fill in later, written straight onto the card.

    The bot links a Telegram account when a client shares their contact; the demo plays
    that part by setting the ids directly.
    """
    details: dict = {}
    if is_company:
        details.update(kind=ClientKind.COMPANY, inn=people.company_inn(rng))
    if rng.random() < 0.3:
        details["email"] = f"client{client.pk}@mail.example"
    if telegram:
        details.update(telegram_user_id=rng.randrange(100_000_000, 7_000_000_000), telegram_username="")
    if details:
        Client.objects.filter(pk=client.pk).update(**details)


def _offered(demo: Demo, slug: str) -> tuple[list[Service], list[int]]:
    not_offered = next(spec.not_offered for spec in data.BRANCHES if spec.slug == slug)
    specs = [spec for spec in data.SERVICES if spec.name not in not_offered]
    return [demo.services[spec.name] for spec in specs], [spec.weight for spec in specs]


def _pick_service(demo: Demo, slug: str) -> Service:
    services, weights = _offered(demo, slug)
    return demo.rng.choices(services, weights=weights)[0]


def _channel_for(demo: Demo, who: DemoClient) -> str:
    if who.telegram and demo.rng.random() < 0.75:
        return BookingChannel.TELEGRAM
    return demo.rng.choices(
        [BookingChannel.PHONE, BookingChannel.WEB, BookingChannel.API], weights=[60, 28, 12]
    )[0]


def load_history(demo: Demo) -> None:
    """A year of visits: imported ones before the launch, engine-era ones since (in every final status)."""
    rng, now = demo.rng, demo.now
    launch = now - timedelta(days=LAUNCHED_DAYS_AGO)
    schedules = {
        slug: load_schedule(
            workshop=workshop, first_day=(now - timedelta(days=HISTORY_DAYS)).astimezone(workshop.tz).date(),
            last_day=now.astimezone(workshop.tz).date(),
        )
        for slug, workshop in demo.branches.items()
    }
    for who in demo.clients:
        for _ in range(rng.choice((1, 2, 2, 3, 3, 4, 4, 5, 6, 8))):
            moment = now - timedelta(days=rng.uniform(0, HISTORY_DAYS))
            workshop = demo.branches[who.branch]
            service = _pick_service(demo, who.branch)
            vehicle = rng.choice(who.vehicles)
            if moment < launch:
                booking_import_visit(
                    workshop=workshop, client=who.client, service=service,
                    visited_on=moment.astimezone(workshop.tz).date(), vehicle=vehicle,
                )
            else:
                day = moment.astimezone(workshop.tz).date()
                _write_past_booking(demo, who, workshop, service, schedules[who.branch][day])
    # The past bookings were written as rows, not through booking_transition: their clients'
    # first visits are worked out from them (the imported ones were noted by the import).
    clients_first_visit_refresh(client_ids=[who.client.pk for who in demo.clients])


def _free_bay(demo: Demo, bays: list[Bay], starts: datetime, ends: datetime) -> Bay | None:
    for bay in bays:
        if all(ends <= s or starts >= e for s, e in demo.occupied[bay.pk]):
            return bay
    return None


def _place(demo: Demo, workshop: Workshop, service: Service, intervals, latest_end: datetime) -> tuple[Bay, datetime] | None:
    """A grid start within ``intervals`` whose end is before ``latest_end``, on a bay free in the fixture."""
    bays = list(Bay.objects.filter(suitable_bays_q(service), workshop=workshop))
    duration = timedelta(minutes=service.duration_minutes)
    step = timedelta(minutes=workshop.slot_step_minutes)
    starts = []
    for open_at, close_at in intervals:
        start = open_at
        while start + duration <= min(close_at, latest_end):
            starts.append(start)
            start += step
    demo.rng.shuffle(starts)
    for start in starts:
        bay = _free_bay(demo, bays, start, start + duration)
        if bay is not None:
            return bay, start
    return None


def _write_past_booking(demo: Demo, who: DemoClient, workshop: Workshop, service: Service, day_schedule,
                        status: str | None = None) -> Booking | None:
    """A booking made through a channel since launch, as it stands now that its time has passed.

    The engine refuses to book the past, so this fixture writes the row and the status
    history it would have left (created → confirmed → completed / no-show, or cancelled),
    with the times they would have happened at. It is demo state, not a user's write.
    """
    rng, now = demo.rng, demo.now
    placed = _place(demo, workshop, service, day_schedule.intervals, latest_end=now)
    if placed is None:
        return None
    bay, starts_at = placed
    ends_at = starts_at + timedelta(minutes=service.duration_minutes)
    status = status or rng.choices(
        [BookingStatus.COMPLETED, BookingStatus.NO_SHOW, BookingStatus.CANCELLED], weights=[80, 7, 13]
    )[0]
    channel = _channel_for(demo, who)
    manager = demo.managers.get(who.branch)
    created_at = starts_at - timedelta(hours=rng.uniform(2, 24 * 8))
    booking = Booking.objects.create(
        workshop=workshop, bay=bay, service=service, client=who.client, vehicle=rng.choice(who.vehicles),
        starts_at=starts_at, ends_at=ends_at, status=status, channel=channel,
        comment=rng.choice(data.BOOKING_COMMENTS), created_by=manager if channel == BookingChannel.PHONE else None,
    )
    Booking.objects.filter(pk=booking.pk).update(created_at=created_at)
    demo.occupied[bay.pk].append((starts_at, ends_at))

    creator = {"by_user": manager} if channel == BookingChannel.PHONE else {"actor": _actor(channel)}
    events = [(created_at, BookingEvent.CREATED, "", BookingStatus.NEW, creator, "")]
    confirmed_at = min(created_at + timedelta(minutes=rng.uniform(5, 240)), starts_at - timedelta(minutes=30))
    if status == BookingStatus.CANCELLED:
        cancelled_at = created_at + (starts_at - created_at) * rng.uniform(0.3, 0.95)
        by_client = channel == BookingChannel.TELEGRAM and rng.random() < 0.6
        events.append((
            cancelled_at, BookingEvent.STATUS, BookingStatus.NEW, BookingStatus.CANCELLED,
            {"actor": TELEGRAM_ACTOR} if by_client else {"by_user": manager}, rng.choice(data.CANCEL_REASONS),
        ))
    else:
        events.append((confirmed_at, BookingEvent.STATUS, BookingStatus.NEW, BookingStatus.CONFIRMED, {"by_user": manager}, ""))
        if status == BookingStatus.COMPLETED:
            events.append((min(ends_at + timedelta(minutes=rng.uniform(0, 90)), now), BookingEvent.STATUS,
                           BookingStatus.CONFIRMED, BookingStatus.COMPLETED, {"by_user": manager}, ""))
        elif status == BookingStatus.NO_SHOW:
            events.append((min(starts_at + timedelta(minutes=45), now), BookingEvent.STATUS, BookingStatus.CONFIRMED,
                           BookingStatus.NO_SHOW, {"by_user": manager}, "Не приехал и не отвечает на звонки"))
    for at, event, from_status, to_status, who_did, reason in events:
        row = BookingHistory.objects.create(
            booking=booking, event=event, from_status=from_status, to_status=to_status,
            new_starts_at=starts_at if event == BookingEvent.CREATED else None, reason=reason, **who_did,
        )
        BookingHistory.objects.filter(pk=row.pk).update(at=at)
    return booking


def _actor(channel: str) -> str:
    return {
        BookingChannel.TELEGRAM: TELEGRAM_ACTOR,
        BookingChannel.WEB: "клиент (сайт)",
        BookingChannel.API: "API (1С)",
    }.get(channel, "")


def load_unclosed_visits(demo: Demo) -> None:
    """Yesterday's and this morning's confirmed visits nobody has marked yet: the manager's to-do."""
    for slug, workshop in demo.branches.items():
        today = demo.now.astimezone(workshop.tz).date()
        schedule = load_schedule(workshop=workshop, first_day=today - timedelta(days=3), last_day=today)
        open_days = [day for day in schedule.values() if day.intervals][-2:]
        candidates = [who for who in demo.clients if who.branch == slug]
        for day in open_days:
            for who in demo.rng.sample(candidates, 2):
                _write_past_booking(demo, who, workshop, _pick_service(demo, slug), day, status=BookingStatus.CONFIRMED)


def load_upcoming(demo: Demo) -> None:
    """Bookings for the next days through the engine, from every channel; some confirmed, some cancelled."""
    rng = demo.rng
    for slug, workshop in demo.branches.items():
        candidates = [who for who in demo.clients if who.branch == slug]
        today = demo.now.astimezone(workshop.tz).date()
        for offset in range(UPCOMING_DAYS):
            day = today + timedelta(days=offset)
            for _ in range(UPCOMING_PER_DAY[slug]):
                _book_upcoming(demo, rng.choice(candidates), workshop, day, offset)


def _book_upcoming(demo: Demo, who: DemoClient, workshop: Workshop, day: date, offset: int) -> Booking | None:
    rng, manager = demo.rng, demo.managers.get(who.branch)
    service = _pick_service(demo, who.branch)
    channel = _channel_for(demo, who)
    slots = slots_available(workshop=workshop, service=service, date_from=day, days=1, channel=channel)
    if not slots:
        return None
    try:
        booking = booking_create(
            workshop=workshop, service=service, client=who.client, starts_at=rng.choice(slots).starts_at,
            channel=channel, vehicle=rng.choice(who.vehicles), comment=rng.choice(data.BOOKING_COMMENTS),
            created_by=manager if channel == BookingChannel.PHONE else None, actor=_actor(channel),
        )
    except SlotTaken:
        return None
    # Sooner visits are more often confirmed already; a few were cancelled.
    roll = rng.random()
    if roll < 0.08:
        by_client = channel == BookingChannel.TELEGRAM
        booking_transition(
            booking=booking, to_status=BookingStatus.CANCELLED, by_user=None if by_client else manager,
            actor=TELEGRAM_ACTOR if by_client else "", reason=rng.choice(data.CANCEL_REASONS),
        )
    elif roll < 0.08 + max(0.15, 0.85 - offset * 0.1):
        booking_transition(booking=booking, to_status=BookingStatus.CONFIRMED, by_user=manager)
    _backdate(demo, booking)
    return booking


def _backdate(demo: Demo, booking: Booking) -> None:
    """Spread creation over the past week, as if clients had booked on different days.

    The engine stamps everything ``now``; the owner's weekly report wants a week of activity.
    """
    rng, now = demo.rng, demo.now
    created_at = now - timedelta(hours=rng.uniform(1, 24 * 7))
    Booking.objects.filter(pk=booking.pk).update(created_at=created_at)
    moment = created_at
    for row in BookingHistory.objects.filter(booking=booking).order_by("id"):
        BookingHistory.objects.filter(pk=row.pk).update(at=moment)
        moment += (now - moment) * rng.uniform(0.1, 0.6)


def silence_notifications() -> int:
    """Mark the outbox rows the load wrote as not needed, so nothing is sent about fixture bookings.

    The engine writes a notification for every booking it creates or changes; for demo
    data those messages would go to made-up clients and flood the console with e-mails.
    Called inside the load's transaction, before the rows are queued after commit.
    """
    return Notification.objects.filter(state=NotificationState.PENDING).update(
        state=NotificationState.SKIPPED, last_error="Демо-данные: не отправлялось."
    )


def load_all(*, now: datetime | None = None, seed: int = 2024,
             managers: dict[str, AbstractBaseUser | None] | None = None) -> Demo:
    """Clients, history and bookings for branches already made by ``load_structure``."""
    demo = Demo(now=now or timezone.now(), rng=random.Random(seed))
    demo.branches = {w.slug: w for w in Workshop.objects.all()}
    demo.services = {s.name: s for s in Service.objects.all()}
    demo.managers = managers or {}
    load_clients(demo)
    load_history(demo)
    load_unclosed_visits(demo)
    load_upcoming(demo)
    silence_notifications()
    return demo
