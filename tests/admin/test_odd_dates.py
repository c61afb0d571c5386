"""Dates typed into URLs and commands that exist but make no sense (year 1, year 9999): an answer, not a 500.

The day after 9999-12-31 does not exist, and neither does the period before 0001-01-01.
"""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

JOURNAL = "admin:bookings_booking_journal"
BOOKINGS = "admin:bookings_booking_changelist"
DASHBOARD = "admin:reports_dashboard_changelist"
EXPORT = "admin:reports_dashboard_export"


@pytest.mark.parametrize(("name", "query"), [
    (JOURNAL, "?day=9999-12-31"),
    (JOURNAL, "?day=0001-01-01"),
    (BOOKINGS, "?day=9999-12-31"),
    (BOOKINGS, "?day=0001-01-01"),
])
def test_the_journal_and_the_booking_list_fall_back_to_today(alpha, owner_client, name, query):
    owner_client.raise_request_exception = False

    response = owner_client.get(reverse(name) + query)

    assert response.status_code == 200


@pytest.mark.parametrize("dates", ["date_from=9999-12-31&date_to=9999-12-31", "date_from=0001-01-01&date_to=0001-01-05"])
def test_the_dashboard_says_which_years_a_report_covers(alpha, owner_client, dates):
    owner_client.raise_request_exception = False

    response = owner_client.get(reverse(DASHBOARD) + "?period=custom&" + dates)

    assert response.status_code == 200
    assert "Отчёт строится за даты с 1900 по 2100 год." in response.content.decode()


def test_the_export_of_such_a_period_is_refused_not_a_500(alpha, owner_client):
    owner_client.raise_request_exception = False

    response = owner_client.get(reverse(EXPORT) + "?period=custom&date_from=0001-01-01&date_to=0001-01-05&format=csv")

    assert response.status_code in (200, 302)
    assert "0001" not in response.get("Content-Disposition", "")


def test_the_earliest_plausible_period_is_compared_with_the_one_before_it(alpha, owner_client):
    response = owner_client.get(reverse(DASHBOARD) + "?period=custom&date_from=1900-01-01&date_to=1900-01-05")

    assert response.status_code == 200


def test_the_report_command_refuses_year_1_in_russian(alpha, tmp_path):
    with pytest.raises(CommandError, match="--from: «0001-01-01» — отчёт строится за даты с 1900 по 2100 год"):
        call_command("report", "--from", "0001-01-01", "--to", "0001-01-05", "--format", "csv",
                     "-o", str(tmp_path / "r.csv"))


def test_the_report_command_wants_a_file_not_a_folder(alpha, tmp_path):
    with pytest.raises(CommandError, match="папка: укажите имя файла"):
        call_command("report", "--from", "2026-01-01", "--to", "2026-01-05", "--format", "csv", "-o", str(tmp_path))
