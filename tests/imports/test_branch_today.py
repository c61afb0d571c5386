"""A visit dated the branch's today is not «in the future» because Moscow is still on yesterday."""

from datetime import date, datetime
from datetime import timezone as dt_timezone

from django.utils import timezone

from bookings.models import Booking
from imports.engine import run_import
from tests.factories import BayFactory, WorkshopFactory


def test_a_kamchatka_branch_imports_this_mornings_visits(db, monkeypatch):
    kamchatka = WorkshopFactory(name="СТО Камчатка", slug="kam", timezone="Asia/Kamchatka")
    BayFactory(workshop=kamchatka)
    # 25 November, 08:00 in Kamchatka (UTC+12); 24 November, 23:00 in Moscow.
    monkeypatch.setattr(timezone, "now", lambda: datetime(2026, 11, 24, 20, 0, tzinfo=dt_timezone.utc))
    data = "ФИО;Телефон;Дата последнего визита\nИванов Иван;89121234567;25.11.2026\n".encode()

    result = run_import(data=data, filename="today.csv", workshop=kamchatka)

    assert result.summary["counts"]["rejected"] == 0 and result.summary["warnings_total"] == 0
    visit = Booking.objects.get()
    assert visit.starts_at.astimezone(kamchatka.tz).date() == date(2026, 11, 25)
