"""«Today» and «this month» on the dashboard are the reader's branches' own dates, not the server's."""

from datetime import datetime
from datetime import timezone as dt_timezone

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.factories import MembershipFactory, UserFactory, WorkshopFactory
from workshops.models import StaffRole

DASHBOARD = reverse("admin:reports_dashboard_changelist")


def test_a_vladivostok_managers_december_starts_at_their_midnight(db, monkeypatch):
    vladivostok = WorkshopFactory(name="СТО Владивосток", slug="vlad", timezone="Asia/Vladivostok")
    user = UserFactory(username="m", is_staff=True)
    MembershipFactory(user=user, workshop=vladivostok, role=StaffRole.MANAGER)
    browser = Client()
    browser.force_login(user)
    # 1 December, 01:00 in Vladivostok (UTC+10); still 30 November in Moscow.
    monkeypatch.setattr(timezone, "now", lambda: datetime(2026, 11, 30, 15, 0, tzinfo=dt_timezone.utc))

    default = browser.get(DASHBOARD).context["report"].period
    today = browser.get(DASHBOARD + "?period=today").context["report"].period

    assert (default.start.isoformat(), default.end.isoformat()) == ("2026-12-01", "2027-01-01")
    assert today.start.isoformat() == "2026-12-01"


def test_branches_in_several_zones_use_the_servers_date(db, monkeypatch):
    owner = UserFactory(username="o", is_superuser=True, is_staff=True)
    WorkshopFactory(name="СТО Владивосток", slug="vlad", timezone="Asia/Vladivostok")
    WorkshopFactory(name="СТО Москва", slug="msk", timezone="Europe/Moscow")
    browser = Client()
    browser.force_login(owner)
    monkeypatch.setattr(timezone, "now", lambda: datetime(2026, 11, 30, 15, 0, tzinfo=dt_timezone.utc))

    today = browser.get(DASHBOARD + "?period=today").context["report"].period

    assert today.start.isoformat() == "2026-11-30"
