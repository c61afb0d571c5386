"""factory-boy factories. Related objects stay in one workshop unless a test says otherwise."""

from datetime import time

import factory
from django.contrib.auth import get_user_model

from bookings.models import Booking, BookingChannel, BookingStatus
from clients.models import Client, ClientPhone, Vehicle
from workshops.models import Bay, BayKind, Service, StaffMembership, StaffRole, Workshop, WorkingHours


class WorkshopFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Workshop
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"СТО №{n}")
    slug = factory.Sequence(lambda n: f"branch-{n}")
    address = "ул. Заводская, 1"
    timezone = "Europe/Moscow"

    @factory.post_generation
    def with_hours(obj, create, extracted, **kwargs):
        """Mon–Sat 09:00–19:00 with lunch 13:00–14:00; Sunday off. ``with_hours=False`` skips."""
        if not create or extracted is False:
            return
        for weekday in range(6):
            WorkingHours.objects.create(
                workshop=obj, weekday=weekday, opens_at=time(9), closes_at=time(19),
                break_starts=time(13), break_ends=time(14),
            )


class BayFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Bay

    workshop = factory.SubFactory(WorkshopFactory)
    name = factory.Sequence(lambda n: f"Пост {n}")
    kind = BayKind.LIFT


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Service
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Услуга {n}")
    duration_minutes = 60
    price_from = 1500
    bay_kind = BayKind.LIFT

    @factory.post_generation
    def workshops(obj, create, extracted, **kwargs):
        if create and extracted:
            obj.workshops.add(*extracted)


class ClientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Client
        skip_postgeneration_save = True

    name = factory.Faker("name", locale="ru_RU")

    @factory.post_generation
    def phone(obj, create, extracted, **kwargs):
        if create and extracted:
            ClientPhone.objects.create(client=obj, number=extracted)


class VehicleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Vehicle

    client = factory.SubFactory(ClientFactory)
    make = "Lada"
    model = "Vesta"
    plate = factory.Sequence(lambda n: f"А{n % 1000:03d}ВС77")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    is_staff = True
    password = factory.PostGenerationMethodCall("set_password", "pass")

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StaffMembership

    user = factory.SubFactory(UserFactory)
    workshop = factory.SubFactory(WorkshopFactory)
    role = StaffRole.MANAGER


class BookingFactory(factory.django.DjangoModelFactory):
    """A booking written directly, for fixtures of existing state; behaviour tests use the engine."""

    class Meta:
        model = Booking

    workshop = factory.SubFactory(WorkshopFactory)
    bay = factory.SubFactory(BayFactory, workshop=factory.SelfAttribute("..workshop"))
    service = factory.SubFactory(ServiceFactory)
    client = factory.SubFactory(ClientFactory)
    starts_at = factory.Faker("future_datetime", tzinfo=None)
    ends_at = factory.LazyAttribute(lambda o: o.starts_at + __import__("datetime").timedelta(hours=1))
    status = BookingStatus.NEW
    channel = BookingChannel.PHONE
