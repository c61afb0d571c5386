"""Two branches, Альфа and Бета, each with one of everything; a manager of Альфа; an owner.

Everything of Бета carries the word «Бета» (MARKER) in what admin would print, so a page
leaking Бета's data is caught by looking for that word.
"""

import zoneinfo
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from bookings.models import (
    Booking,
    BookingEvent,
    BookingHistory,
    BookingStatus,
    Notification,
)
from clients import models as client_models
from clients.models import Consent, Vehicle
from imports.models import ImportJob
from tests.factories import (
    BayFactory,
    BookingFactory,
    ClientFactory,
    MembershipFactory,
    ServiceFactory,
    UserFactory,
    VehicleFactory,
    WorkshopFactory,
)
from workshops.models import Bay, ClosedDay, Service, StaffMembership, Workshop

MARKER = "Бета"


@dataclass
class Branch:
    workshop: Workshop
    bay: Bay
    service: Service
    client: client_models.Client
    vehicle: Vehicle
    booking: Booking
    history: BookingHistory
    membership: StaffMembership
    objects: dict = field(default_factory=dict)


def make_branch(title: str, slug: str, plate: str, phone: str, tz: str = "Europe/Moscow") -> Branch:
    workshop = WorkshopFactory(name=f"СТО {title}", slug=slug, timezone=tz)
    bay = BayFactory(workshop=workshop, name=f"Подъёмник {title}")
    service = ServiceFactory(name=f"Замена масла {title}", workshops=[workshop])
    client = ClientFactory(name=f"Клиент {title}", phone=phone)
    client.workshops.add(workshop)
    vehicle = VehicleFactory(client=client, make=f"Лада {title}", plate=plate)
    Consent.objects.create(
        client=client, purpose="personal_data", text_version="1", text_hash="0" * 64, text=f"Согласие {title}",
        channel="telegram",
    )
    ClosedDay.objects.create(workshop=workshop, date=timezone.localdate() + timedelta(days=20), reason=f"Учёт {title}")
    starts = datetime.combine(timezone.localdate() - timedelta(days=1), time(10), tzinfo=workshop.tz)
    booking = BookingFactory(
        workshop=workshop, bay=bay, service=service, client=client, vehicle=vehicle,
        starts_at=starts, ends_at=starts + timedelta(hours=1), status=BookingStatus.CONFIRMED,
        comment=f"Комментарий {title}",
    )
    history = BookingHistory.objects.create(
        booking=booking, event=BookingEvent.CREATED, to_status=BookingStatus.NEW, actor=f"Бот {title}"
    )
    staff = UserFactory(username=f"staff-{slug}", first_name=title)
    membership = MembershipFactory(user=staff, workshop=workshop)
    branch = Branch(workshop, bay, service, client, vehicle, booking, history, membership)
    branch.objects = {
        Workshop: workshop, Bay: bay, Service: service, client_models.Client: client, Vehicle: vehicle, Booking: booking,
        BookingHistory: history, StaffMembership: membership,
        Notification: Notification.objects.create(
            booking=booking, workshop=workshop, recipient_kind="client", client=client, channel="telegram",
            template_key="reminder", last_error=f"Ошибка {title}",
        ),
        ImportJob: ImportJob.objects.create(workshop=workshop, original_name=f"клиенты {title}.csv", created_by=staff),
    }
    return branch


@pytest.fixture
def alpha(db) -> Branch:
    return make_branch("Альфа", "alpha", "А111АА77", "+79121110001")


@pytest.fixture
def beta(db) -> Branch:
    return make_branch(MARKER, "beta", "В222ВВ77", "+79122220002", tz="Asia/Yekaterinburg")


@pytest.fixture
def manager(alpha):
    """A manager of Альфа holding every model permission except «sees all branches»."""
    user = UserFactory(username="olga", first_name="Ольга")
    user.user_permissions.add(*Permission.objects.exclude(codename="access_all_workshops"))
    MembershipFactory(user=user, workshop=alpha.workshop)
    return user


@pytest.fixture
def owner(db):
    return UserFactory(username="owner", is_superuser=True)


@pytest.fixture
def manager_client(manager):
    client = Client()
    client.force_login(manager)
    return client


@pytest.fixture
def owner_client(owner):
    client = Client()
    client.force_login(owner)
    return client


YEKATERINBURG = zoneinfo.ZoneInfo("Asia/Yekaterinburg")
