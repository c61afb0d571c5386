"""A hand-built March 2025 of two branches in different time zones, with every figure worked out by hand.

Rows are past state, so they are written with ``BookingFactory`` / the ORM, not the
engine (which refuses times in the past). ``Booking.created_at`` and ``BookingHistory.at``
are ``auto_now_add``: Django overwrites any value given on insert, so the past moments are
set with a queryset ``update()`` right after each row is created. The clients' first
visits, which the booking services keep as they record visits, are then worked out from
the rows (``clients_first_visit_refresh``), as the demo does for its past bookings.

Period: [2025-03-01, 2025-04-01) in each branch's local dates.
Branch A «СТО Центр» is in Moscow (UTC+3), branch B «СТО Восток» in Novosibirsk (UTC+7):
moments between 17:00 and 21:00 UTC on the boundary days are inside the period for one
branch and outside for the other, and several rows sit exactly there.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import pytest

from bookings.models import Booking, BookingChannel, BookingEvent, BookingHistory, BookingStatus
from bookings.services import clients_first_visit_refresh
from clients.models import Client
from reports.periods import Period
from tests.factories import (
    BayFactory,
    BookingFactory,
    ClientFactory,
    MembershipFactory,
    ServiceFactory,
    UserFactory,
    WorkshopFactory,
)
from workshops.models import ClosedDay, Workshop

NEW, CONFIRMED, COMPLETED = BookingStatus.NEW, BookingStatus.CONFIRMED, BookingStatus.COMPLETED
CANCELLED, NO_SHOW = BookingStatus.CANCELLED, BookingStatus.NO_SHOW
TG, WEB, PHONE, API, IMPORT = (
    BookingChannel.TELEGRAM, BookingChannel.WEB, BookingChannel.PHONE, BookingChannel.API, BookingChannel.IMPORT,
)

MARCH = Period(date(2025, 3, 1), date(2025, 4, 1))
# The 31 days before March: 2025-01-29 … 2025-02-28.
BEFORE_MARCH = Period(date(2025, 1, 29), date(2025, 3, 1))


def local(workshop: Workshop, text: str) -> datetime:
    """``"2025-03-01 00:00"`` as wall-clock time at ``workshop``."""
    return datetime.fromisoformat(text).replace(tzinfo=workshop.tz)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text + "+00:00")


def book(
    *, workshop: Workshop, client: Client, service, channel: str, created: datetime, starts: datetime, status: str,
    history: tuple[tuple[str, datetime], ...] = (),
) -> Booking:
    """A booking with its creation row and status changes, each at the given moment."""
    booking = BookingFactory(
        workshop=workshop, bay=workshop.bays.get(), service=service, client=client, channel=channel,
        starts_at=starts, ends_at=starts + timedelta(minutes=service.duration_minutes), status=status,
    )
    Booking.objects.filter(pk=booking.pk).update(created_at=created)
    first = COMPLETED if channel == IMPORT else NEW
    rows = [(BookingEvent.CREATED, "", first, created)]
    previous = first
    for to_status, at in history:
        rows.append((BookingEvent.STATUS, previous, to_status, at))
        previous = to_status
    assert previous == status, "the history must end in the booking's status"
    for event, from_status, to_status, at in rows:
        row = BookingHistory.objects.create(booking=booking, event=event, from_status=from_status, to_status=to_status)
        BookingHistory.objects.filter(pk=row.pk).update(at=at)
    return booking


@dataclass
class World:
    center: Workshop
    east: Workshop
    owner: object
    manager_center: object
    expected: dict = field(default_factory=dict)


@pytest.fixture
def march_world(db) -> World:
    center = WorkshopFactory(name="СТО Центр", slug="center", timezone="Europe/Moscow")
    east = WorkshopFactory(name="СТО Восток", slug="east", timezone="Asia/Novosibirsk")
    for workshop in (center, east):
        BayFactory(workshop=workshop, name="Подъёмник 1")
    # 8 March is a public holiday at B only.
    ClosedDay.objects.create(workshop=east, date=date(2025, 3, 8), reason="8 Марта")
    oil = ServiceFactory(name="Замена масла", duration_minutes=60, workshops=[center, east])
    tyres = ServiceFactory(name="Шиномонтаж", duration_minutes=30, workshops=[center, east])

    ivan = ClientFactory(name="Иван Петров", telegram_user_id=1001)
    petr = ClientFactory(name="Пётр Сидоров")
    olga = ClientFactory(name="Ольга Смирнова", telegram_user_id=1003)
    anna = ClientFactory(name="Анна Кузнецова")
    boris = ClientFactory(name="Борис Попов")
    vera = ClientFactory(name="Вера Соколова", telegram_user_id=1006)
    gleb = ClientFactory(name="Глеб Лебедев", telegram_user_id=1007)
    dina = ClientFactory(name="Дина Козлова")
    egor = ClientFactory(name="Егор Новиков")
    zoya = ClientFactory(name="Зоя Морозова")
    kira = ClientFactory(name="Кира Волкова")
    mila = ClientFactory(name="Мила Зайцева")
    lev = ClientFactory(name="Лев Павлов")
    A, B = center, east

    # b1 Ivan: a 2024 visit imported during March. Makes Ivan returning; never a new booking.
    book(workshop=A, client=ivan, service=oil, channel=IMPORT, created=local(A, "2025-03-05 10:00"),
         starts=local(A, "2024-06-10 12:00"), status=COMPLETED)
    # b2 Ivan: Telegram, created at the very first moment of March in Moscow; visit on 10 March.
    book(workshop=A, client=ivan, service=oil, channel=TG, created=local(A, "2025-03-01 00:00"),
         starts=local(A, "2025-03-10 10:00"), status=COMPLETED,
         history=((CONFIRMED, local(A, "2025-03-01 09:00")), (COMPLETED, local(A, "2025-03-10 11:00"))))
    # b3 Petr: created one minute before March (not new); first visit ever on 3 March.
    book(workshop=A, client=petr, service=oil, channel=WEB, created=local(A, "2025-02-28 23:59"),
         starts=local(A, "2025-03-03 10:00"), status=COMPLETED,
         history=((CONFIRMED, local(A, "2025-03-01 10:00")), (COMPLETED, local(A, "2025-03-03 11:00"))))
    # b4 Petr comes again on 20 March: returning because of his 3 March visit.
    book(workshop=A, client=petr, service=tyres, channel=PHONE, created=local(A, "2025-03-12 15:00"),
         starts=local(A, "2025-03-20 10:00"), status=COMPLETED,
         history=((CONFIRMED, local(A, "2025-03-12 15:05")), (COMPLETED, local(A, "2025-03-20 11:00"))))
    # b5 Olga: created 28 Feb 20:30 UTC = 1 March 03:30 in Novosibirsk (in March at B, though
    # still February in Moscow); visit on 2 April, completed after the period.
    book(workshop=B, client=olga, service=oil, channel=TG, created=utc("2025-02-28 20:30"),
         starts=local(B, "2025-04-02 10:00"), status=COMPLETED,
         history=((CONFIRMED, local(B, "2025-03-01 09:00")), (COMPLETED, local(B, "2025-04-02 11:00"))))
    # b6 Anna: created the last minute of March at B; never confirmed.
    book(workshop=B, client=anna, service=tyres, channel=WEB, created=local(B, "2025-03-31 23:59"),
         starts=local(B, "2025-04-05 10:00"), status=NEW)
    # b7 Boris: created 1 April 00:00 at B = 31 March 20:00 in Moscow — outside March at B.
    book(workshop=B, client=boris, service=oil, channel=PHONE, created=local(B, "2025-04-01 00:00"),
         starts=local(B, "2025-04-03 10:00"), status=NEW)
    # b8 Vera: a February booking cancelled on 2 March.
    book(workshop=A, client=vera, service=oil, channel=WEB, created=local(A, "2025-02-10 12:00"),
         starts=local(A, "2025-03-05 10:00"), status=CANCELLED,
         history=((CONFIRMED, local(A, "2025-02-11 10:00")), (CANCELLED, local(A, "2025-03-02 10:00"))))
    # b9 Gleb: a February booking, no-show on 1 March.
    book(workshop=B, client=gleb, service=tyres, channel=TG, created=local(B, "2025-02-15 12:00"),
         starts=local(B, "2025-03-01 10:00"), status=NO_SHOW,
         history=((CONFIRMED, local(B, "2025-02-16 10:00")), (NO_SHOW, local(B, "2025-03-01 12:00"))))
    # b10 Dina: created and confirmed in March, cancelled 30 minutes after March ended.
    book(workshop=A, client=dina, service=oil, channel=WEB, created=local(A, "2025-03-15 10:00"),
         starts=local(A, "2025-04-10 10:00"), status=CANCELLED,
         history=((CONFIRMED, local(A, "2025-03-16 10:00")), (CANCELLED, local(A, "2025-04-01 00:30"))))
    # b11 Egor: created through the API in March and cancelled the next day without confirmation.
    book(workshop=B, client=egor, service=oil, channel=API, created=local(B, "2025-03-20 10:00"),
         starts=local(B, "2025-03-25 10:00"), status=CANCELLED,
         history=((CANCELLED, local(B, "2025-03-21 10:00")),))
    # b12 Petr: cancelled 28 Feb 23:30 Moscow (= 1 March 03:30 in Novosibirsk): not a March cancellation.
    book(workshop=A, client=petr, service=tyres, channel=WEB, created=local(A, "2025-02-20 10:00"),
         starts=local(A, "2025-03-04 12:00"), status=CANCELLED,
         history=((CANCELLED, local(A, "2025-02-28 23:30")),))
    # b13 Zoya: an imported visit of 2 March (imported on 25 March): a completed visit, not a new booking.
    book(workshop=B, client=zoya, service=oil, channel=IMPORT, created=local(B, "2025-03-25 09:00"),
         starts=local(B, "2025-03-02 12:00"), status=COMPLETED)
    # b14 Kira: a January visit at B ...
    book(workshop=B, client=kira, service=tyres, channel=WEB, created=local(B, "2025-01-05 10:00"),
         starts=local(B, "2025-01-10 10:00"), status=COMPLETED,
         history=((CONFIRMED, local(B, "2025-01-05 11:00")), (COMPLETED, local(B, "2025-01-10 11:00"))))
    # b15 ... makes her returning at A on 31 March 18:00 (clients are company-wide).
    book(workshop=A, client=kira, service=oil, channel=PHONE, created=local(A, "2025-03-25 12:00"),
         starts=local(A, "2025-03-31 18:00"), status=COMPLETED,
         history=((CONFIRMED, local(A, "2025-03-25 12:05")), (COMPLETED, local(A, "2025-03-31 19:00"))))
    # b16 Mila: visit 1 March 01:00 at B (= 28 Feb 21:00 in Moscow): a March visit at B.
    book(workshop=B, client=mila, service=tyres, channel=PHONE, created=local(B, "2025-02-20 10:00"),
         starts=local(B, "2025-03-01 01:00"), status=COMPLETED,
         history=((CONFIRMED, local(B, "2025-02-21 10:00")), (COMPLETED, local(B, "2025-03-01 01:30"))))
    # b17 Lev: created in March, visit 1 April 00:30 at B (= 31 March 20:30 in Moscow): not a March visit.
    book(workshop=B, client=lev, service=oil, channel=WEB, created=local(B, "2025-03-10 10:00"),
         starts=local(B, "2025-04-01 00:30"), status=COMPLETED,
         history=((CONFIRMED, local(B, "2025-03-10 11:00")), (COMPLETED, local(B, "2025-04-01 01:30"))))

    clients_first_visit_refresh()

    owner = UserFactory(username="owner", is_superuser=True)
    manager_center = MembershipFactory(workshop=center, user__username="manager_center").user
    world = World(center=center, east=east, owner=owner, manager_center=manager_center)
    world.expected = EXPECTED
    return world


# Worked out by hand from the rows above (b1 … b17).
EXPECTED = {
    "total": {
        # new: b2 b4 b5 b6 b10 b11 b15 b17; confirmed: b2 b4 b5 b10 b15 b17; Telegram: b2 b5
        "new": 8, "confirmed": 6, "telegram_new": 2,
        # completed visits starting in March: b2 b3 b4 b13 b15 b16
        "completed": 6,
        # cancelled in March: b8 b11; no-show in March: b9
        "cancelled": 2, "no_show": 1,
        # visited: Ivan Petr Zoya Kira Mila; returning: Ivan (import) Petr (twice) Kira (B in January)
        "visited_clients": 5, "returning_clients": 3,
        # created in March (not imported) or visiting in March: Ivan Petr Olga Anna Dina Egor Kira Lev
        # (created) + Vera Gleb Zoya Mila (visit); Telegram: Ivan Olga Vera Gleb
        "booked_clients": 12, "telegram_clients": 4,
    },
    "branch": {
        "СТО Центр": {"new": 4, "confirmed": 4, "telegram_new": 1, "completed": 4, "cancelled": 1, "no_show": 0,
                      "visited_clients": 3, "returning_clients": 3, "booked_clients": 5, "telegram_clients": 2},
        "СТО Восток": {"new": 4, "confirmed": 2, "telegram_new": 1, "completed": 2, "cancelled": 1, "no_show": 1,
                       "visited_clients": 2, "returning_clients": 0, "booked_clients": 7, "telegram_clients": 2},
    },
    "channel": {
        "telegram": {"new": 2, "confirmed": 2, "completed": 1, "cancelled": 0, "no_show": 1},
        "web": {"new": 3, "confirmed": 2, "completed": 1, "cancelled": 1, "no_show": 0},
        "phone": {"new": 2, "confirmed": 2, "completed": 3, "cancelled": 0, "no_show": 0},
        "api": {"new": 1, "confirmed": 0, "completed": 0, "cancelled": 1, "no_show": 0},
        "import": {"new": 0, "confirmed": 0, "completed": 1, "cancelled": 0, "no_show": 0},
    },
    "service": {
        "Замена масла": {"new": 6, "confirmed": 5, "completed": 4, "cancelled": 2, "no_show": 0},
        "Шиномонтаж": {"new": 2, "confirmed": 1, "completed": 2, "cancelled": 0, "no_show": 1},
    },
    # Days with anything; every other March day is all zeros.
    "day": {
        date(2025, 3, 1): {"new": 2, "confirmed": 2, "completed": 1, "no_show": 1, "visited_clients": 1,
                           "returning_clients": 0},
        date(2025, 3, 2): {"cancelled": 1, "completed": 1, "visited_clients": 1},
        date(2025, 3, 3): {"completed": 1, "visited_clients": 1},
        date(2025, 3, 10): {"new": 1, "confirmed": 1, "completed": 1, "visited_clients": 1, "returning_clients": 1},
        date(2025, 3, 12): {"new": 1, "confirmed": 1},
        date(2025, 3, 15): {"new": 1, "confirmed": 1},
        date(2025, 3, 20): {"new": 1, "completed": 1, "visited_clients": 1, "returning_clients": 1},
        date(2025, 3, 21): {"cancelled": 1},
        date(2025, 3, 25): {"new": 1, "confirmed": 1},
        date(2025, 3, 31): {"new": 1, "completed": 1, "visited_clients": 1, "returning_clients": 1},
    },
    # New bookings of March by their status now: b2 b4 b5 b15 b17 completed, b6 new, b10 b11 cancelled.
    "funnel": {"completed": 5, "new": 1, "cancelled": 2},
    # Mon–Sat 9–19 with an hour's lunch = 540 min; March 2025 has 26 such days (B: 25, closed 8 March); 1 bay each.
    # Booked (not cancelled, not imported, starting in March): A b2 60 + b3 60 + b4 30 + b15 60; B b9 30 + b16 30.
    "occupancy": {"СТО Центр": (210, 26 * 540), "СТО Восток": (60, 25 * 540)},
    # 29 Jan … 28 Feb: new b3 b8 b9 b12 b16 (confirmed all but b12; Telegram b9); cancelled b12; no visits.
    "previous": {"new": 5, "confirmed": 4, "telegram_new": 1, "completed": 0, "cancelled": 1, "no_show": 0,
                 "visited_clients": 0, "returning_clients": 0},
}

DAY_FIGURES = ("new", "confirmed", "completed", "cancelled", "no_show", "visited_clients", "returning_clients")


def expected_day(day: date) -> dict[str, int]:
    """The hand-worked figures of one March day, zeros filled in."""
    return {name: EXPECTED["day"].get(day, {}).get(name, 0) for name in DAY_FIGURES}

