"""manage.py demo_setup: the demo company it loads, the passwords it prints once, and a rerun that changes nothing."""

import re
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from bookings.models import TRANSITIONS, Booking, BookingChannel, BookingEvent, BookingHistory, BookingStatus
from clients.models import Client, ClientPhone, Vehicle
from clients.normalize import normalize_phone, normalize_plate, normalize_vin
from workshops.models import Bay, ClosedDay, Service, StaffMembership, Workshop, WorkingHours
from workshops.selectors import user_is_owner, workshops_for_user

TABLES = (Workshop, Bay, WorkingHours, ClosedDay, Service, Client, ClientPhone, Vehicle, Booking, BookingHistory, Group)


def snapshot() -> dict:
    counts = {model.__name__: model.objects.count() for model in TABLES}
    users = dict(get_user_model().objects.values_list("username", "password"))
    return {"counts": counts, "users": users}


def run_demo_setup() -> str:
    out = StringIO()
    call_command("demo_setup", stdout=out)
    return out.getvalue()


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    """Run the command twice on an empty database; roll everything back after the module."""
    with django_db_blocker.unblock(), transaction.atomic():
        first = run_demo_setup()
        after_first = snapshot()
        second = run_demo_setup()
        yield {"first": first, "second": second, "after_first": after_first, "after_second": snapshot()}
        transaction.set_rollback(True)


@pytest.fixture
def loaded(demo, db):
    return demo


def test_it_creates_two_branches_in_different_time_zones_with_bays_of_several_kinds(loaded):
    branches = list(Workshop.objects.all())
    assert len(branches) == 2
    assert {w.timezone for w in branches} == {"Europe/Moscow", "Asia/Yekaterinburg"}
    for workshop in branches:
        kinds = set(workshop.bays.values_list("kind", flat=True))
        assert {"lift", "tyre"} <= kinds and len(kinds) >= 4


def test_it_gives_branches_hours_with_a_lunch_break_a_day_off_and_closed_days(loaded):
    for workshop in Workshop.objects.all():
        hours = list(workshop.hours.all())
        assert 5 <= len(hours) < 7, "Sunday is a day off"
        assert all(h.break_starts and h.break_ends for h in hours)
        today = timezone.now().astimezone(workshop.tz).date()
        assert workshop.closed_days.filter(date__gt=today, date__lte=today + timedelta(days=14)).exists()


def test_it_creates_services_with_durations_prices_bay_kinds_and_return_intervals(loaded):
    services = list(Service.objects.all())
    assert 8 <= len(services) <= 10
    assert all(s.duration_minutes >= 30 and s.price_from for s in services)
    oil = Service.objects.get(name__startswith="Замена масла")
    assert (oil.bay_kind, oil.return_interval_months) == ("lift", 6)
    assert Service.objects.filter(bay_kind="").exists(), "some service fits any bay"
    ekb = Workshop.objects.get(timezone="Asia/Yekaterinburg")
    assert not ekb.services.filter(bay_kind="alignment").exists(), "a branch without the stand does not offer it"


def test_it_creates_two_hundred_clients_with_valid_phones_and_cars(loaded):
    assert Client.objects.count() == 200
    assert not Client.objects.filter(phones=None).exists()
    assert not Client.objects.filter(vehicles=None).exists()
    for number in ClientPhone.objects.values_list("number", flat=True):
        assert normalize_phone(number) == number and number.startswith("+79")
    for plate, vin in Vehicle.objects.values_list("plate", "vin"):
        assert normalize_plate(plate) == plate
        assert not vin or normalize_vin(vin) == vin
    assert Vehicle.objects.exclude(vin="").count() > 20
    names = Client.objects.values_list("name", flat=True)
    assert sum(bool(re.fullmatch(r"[А-ЯЁ][а-яё]+ [А-ЯЁ][а-яё]+ [А-ЯЁ][а-яё]+", name)) for name in names) > 180
    assert Client.objects.exclude(telegram_user_id=None).count() > 40


def test_it_loads_a_year_of_imported_history_and_recent_bookings_in_every_status_and_channel(loaded):
    now = timezone.now()
    imported = Booking.objects.filter(channel=BookingChannel.IMPORT)
    assert imported.count() > 300
    assert set(imported.values_list("status", flat=True)) == {BookingStatus.COMPLETED}
    assert imported.filter(starts_at__lt=now - timedelta(days=300)).exists()
    assert not Booking.objects.filter(starts_at__lt=now - timedelta(days=367)).exists()
    assert set(Booking.objects.values_list("status", flat=True)) == set(BookingStatus.values)
    assert set(Booking.objects.values_list("channel", flat=True)) == set(BookingChannel.values)
    upcoming = Booking.objects.filter(starts_at__gt=now, starts_at__lt=now + timedelta(days=10))
    assert upcoming.count() > 60
    assert set(upcoming.values_list("status", flat=True)) == {"new", "confirmed", "cancelled"}
    assert set(upcoming.values_list("workshop__timezone", flat=True)) == {"Europe/Moscow", "Asia/Yekaterinburg"}
    assert set(upcoming.values_list("channel", flat=True)) == set(BookingChannel.values) - {"import"}


def test_every_booking_has_a_history_the_status_machine_allows_in_time_order(loaded):
    for booking in Booking.objects.exclude(channel=BookingChannel.IMPORT).prefetch_related("history"):
        rows = list(booking.history.all())
        assert rows[0].event == BookingEvent.CREATED and rows[0].to_status == BookingStatus.NEW
        assert rows[0].at == booking.created_at
        for earlier, later in zip(rows, rows[1:]):
            assert later.to_status in TRANSITIONS[earlier.to_status]
            assert earlier.at <= later.at <= timezone.now()
        assert rows[-1].to_status == booking.status


def test_active_bookings_never_overlap_on_a_bay(loaded):
    active = list(Booking.objects.filter(status__in=["new", "confirmed"]).order_by("bay", "starts_at"))
    for earlier, later in zip(active, active[1:]):
        if earlier.bay_id == later.bay_id:
            assert earlier.ends_at <= later.starts_at


def test_it_prints_each_new_password_once_and_the_password_logs_in(loaded):
    first = loaded["first"]
    User = get_user_model()
    for username in ("admin", "manager_msk", "manager_ekb"):
        match = re.search(rf"^\s*{username}\s+(\S+)", first, re.MULTILINE)
        assert match, f"{username}'s password is printed"
        assert User.objects.get(username=username).check_password(match.group(1))
        assert username not in loaded["second"]
    assert User.objects.get(username="admin").is_superuser


def test_managers_see_only_their_branch_and_the_owner_group_sees_all(loaded):
    User = get_user_model()
    msk = User.objects.get(username="manager_msk")
    assert list(workshops_for_user(msk).values_list("timezone", flat=True)) == ["Europe/Moscow"]
    assert StaffMembership.objects.get(user=msk).role == "manager"
    assert msk.has_perm("bookings.change_booking") and msk.has_perm("workshops.change_closedday")
    assert msk.has_perm("imports.import_clients")
    assert not msk.has_perm("workshops.add_workshop") and not msk.has_perm("auth.change_user")
    assert not user_is_owner(msk)
    owner = User.objects.create_user("owner", is_staff=True)
    owner.groups.add(Group.objects.get(name="Владелец"))
    owner = User.objects.get(pk=owner.pk)
    assert user_is_owner(owner) and owner.has_perm("workshops.change_service")
    assert not owner.has_perm("bookings.delete_booking"), "bookings are cancelled, not deleted"


def test_a_second_run_keeps_the_data_and_resets_no_password(loaded):
    assert loaded["after_second"] == loaded["after_first"]
    assert "уже есть" in loaded["second"]


def test_nothing_is_sent_about_the_fixture_bookings(loaded):
    from bookings.models import Notification

    assert Notification.objects.exists(), "the engine wrote its outbox rows"
    assert set(Notification.objects.values_list("state", flat=True)) == {"skipped"}
    assert all(w.manager_emails for w in Workshop.objects.all()), "new bookings made in the demo reach a manager"


def test_a_demo_manager_logs_into_admin_and_sees_only_their_branch(loaded, client):
    client.force_login(get_user_model().objects.get(username="manager_msk"))
    latest_msk = Booking.objects.filter(workshop__slug="moscow").order_by("-starts_at").first()
    ekb_only = Client.objects.filter(workshops__slug="ekb").exclude(workshops__slug="moscow")
    latest_ekb = Booking.objects.filter(workshop__slug="ekb", client__in=ekb_only).order_by("-starts_at").first()
    page = client.get("/admin/bookings/booking/").content.decode()
    assert latest_msk.client.name in page
    assert latest_ekb.client.name not in page
    assert client.get(f"/admin/bookings/booking/{latest_ekb.pk}/change/").status_code in (302, 404)
    assert client.get("/admin/bookings/booking/journal/").status_code == 200
