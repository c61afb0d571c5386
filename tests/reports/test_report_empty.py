"""Empty periods and empty installations show zeros, not errors."""

import io

from django.core.management import call_command
from openpyxl import load_workbook

from tests.factories import UserFactory
from tests.reports.files import csv_sections, page_figures, xlsx_summary

FUTURE = "period=custom&date_from=2031-01-01&date_to=2031-01-31"


def test_a_period_without_bookings_shows_zeros(march_world, client):
    client.force_login(march_world.owner)
    response = client.get(f"/admin/reports/dashboard/?{FUTURE}")

    assert response.status_code == 200
    figures = page_figures(response.content.decode())
    assert len(figures) == 9
    assert set(figures.values()) == {0.0}


def test_every_preset_period_renders(march_world, client):
    client.force_login(march_world.owner)
    for preset in ("today", "week", "month", "last_month"):
        response = client.get(f"/admin/reports/dashboard/?period={preset}&workshop={march_world.east.pk}")
        assert response.status_code == 200, preset
        assert len(page_figures(response.content.decode())) == 9


def test_an_installation_without_branches_shows_the_owner_zeros(db, client):
    client.force_login(UserFactory(is_superuser=True))
    response = client.get("/admin/reports/dashboard/")

    assert response.status_code == 200
    assert set(page_figures(response.content.decode()).values()) == {0.0}


def test_the_files_of_an_empty_period_hold_zeros(march_world, tmp_path):
    for fmt in ("xlsx", "csv"):
        call_command("report", "--from", "2031-01-01", "--to", "2031-02-01", "--format", fmt,
                     "-o", str(tmp_path / f"empty.{fmt}"), stdout=io.StringIO())

    summary = xlsx_summary(tmp_path / "empty.xlsx")
    assert set(summary.values()) == {0}
    assert load_workbook(tmp_path / "empty.xlsx")["Записи"].max_row == 1
    total = csv_sections(tmp_path / "empty.csv")[("Итого", "01.01.2031 — 31.01.2031")]
    assert set(total.values()) == {0.0}


def test_a_bad_custom_period_says_what_is_wrong_and_shows_this_month(march_world, client):
    client.force_login(march_world.owner)
    html = client.get("/admin/reports/dashboard/?period=custom&date_from=2025-03-31&date_to=2025-03-01").content.decode()

    assert "Начало периода должно быть раньше его конца." in html
    assert len(page_figures(html)) == 9
