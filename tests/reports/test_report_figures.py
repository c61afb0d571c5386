"""The figures of DESIGN §4 against the hand-built March (tests/reports/world.py)."""

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bookings.models import BookingStatus
from bookings.services import booking_create, booking_import_visit, booking_transition
from reports.figures import Figures
from reports.periods import Period
from reports.selectors import report_figures
from tests.conftest import next_weekday
from tests.factories import ClientFactory
from tests.reports.world import BEFORE_MARCH, EXPECTED, MARCH, expected_day
from workshops.models import Workshop

COUNTS = ("new", "confirmed", "completed", "cancelled", "no_show")


def pick(figures: Figures, names) -> dict[str, int]:
    return {name: getattr(figures, name) for name in names}


def test_it_counts_every_figure_of_the_period_as_worked_out_by_hand(march_world):
    report = report_figures(workshops=Workshop.objects.order_by("name"), period=MARCH)

    assert pick(report.total, EXPECTED["total"]) == EXPECTED["total"]
    assert report.total.returning_share == pytest.approx(3 / 5)
    assert report.total.telegram_share == pytest.approx(2 / 8)
    assert report.total.telegram_client_share == pytest.approx(4 / 12)


def test_it_breaks_the_figures_down_by_branch_channel_and_service(march_world):
    report = report_figures(workshops=Workshop.objects.all(), period=MARCH)
    names = {w.pk: w.name for w in report.workshops}

    by_branch = {names[pk]: pick(f, EXPECTED["branch"]["СТО Центр"]) for pk, f in report.by_branch.items()}
    assert by_branch == EXPECTED["branch"]
    assert {channel: pick(f, COUNTS) for channel, f in report.by_channel.items()} == EXPECTED["channel"]
    by_service = {report.service_names[pk]: pick(f, COUNTS) for pk, f in report.by_service.items()}
    assert by_service == EXPECTED["service"]


def test_it_counts_each_local_day_of_each_branch_in_its_own_time_zone(march_world):
    report = report_figures(workshops=Workshop.objects.all(), period=MARCH)

    assert list(report.by_day) == MARCH.dates()
    for day, figures in report.by_day.items():
        assert pick(figures, expected_day(day)) == expected_day(day), day


def test_it_shows_the_funnel_and_bay_occupancy(march_world):
    report = report_figures(workshops=Workshop.objects.all(), period=MARCH)

    assert report.funnel == EXPECTED["funnel"]
    occupancy = {w.name: (report.occupancy[w.pk].booked_minutes, report.occupancy[w.pk].open_minutes)
                 for w in report.workshops}
    assert occupancy == EXPECTED["occupancy"]


def test_it_compares_with_the_previous_period_of_the_same_length(march_world):
    assert MARCH.previous() == BEFORE_MARCH
    report = report_figures(workshops=Workshop.objects.all(), period=MARCH.previous(), detail=False)

    assert pick(report.total, EXPECTED["previous"]) == EXPECTED["previous"]


def test_an_empty_period_is_all_zeros(march_world):
    report = report_figures(workshops=Workshop.objects.all(), period=Period(MARCH.end.replace(year=2030), MARCH.end.replace(year=2030, month=5)))

    assert report.total.as_dict() == {**{name: 0 for name in report.total.as_dict()}, "returning_share": 0.0,
                                      "telegram_share": 0.0, "telegram_client_share": 0.0}
    assert all(f.new == 0 and f.visited_clients == 0 for f in report.by_day.values())


def test_it_costs_a_fixed_number_of_queries_whatever_the_period(march_world):
    workshops = list(Workshop.objects.all())
    with CaptureQueriesContext(connection) as month:
        report_figures(workshops=workshops, period=MARCH)
    with CaptureQueriesContext(connection) as year:
        report_figures(workshops=workshops, period=Period(MARCH.start.replace(year=2024), MARCH.start))

    assert len(month) == len(year) <= 12 + len(workshops)


def test_visits_recorded_through_the_booking_services_count_as_returns(workshop, lift, oil_change, client_ivan):
    """No fixture shortcut here: the engine books, marks done, and imports (the first visits the services keep)."""
    msk = workshop.tz
    first_day, second_day = next_weekday(1, msk, 10), next_weekday(1, msk, 10, weeks=1)
    olga = ClientFactory(name="Ольга")
    visits = ((client_ivan, first_day), (client_ivan, second_day), (olga, first_day + timedelta(hours=5)))
    for client, starts_at in visits:
        booking = booking_create(workshop=workshop, service=oil_change, client=client, starts_at=starts_at,
                                 channel="phone")
        booking_transition(booking=booking, to_status=BookingStatus.CONFIRMED)
        booking_transition(booking=booking, to_status=BookingStatus.COMPLETED, now=second_day + timedelta(hours=2))
    booking_import_visit(workshop=workshop, client=olga, service=oil_change, visited_on=date(2024, 6, 10))
    period = Period(first_day.date(), second_day.date() + timedelta(days=1))

    report = report_figures(workshops=[workshop], period=period)

    # Ivan's first visit ever is in the period, his second one is a return; Olga came before (imported).
    assert (report.total.visited_clients, report.total.returning_clients, report.total.completed) == (2, 2, 3)
    first, second = report.by_day[first_day.date()], report.by_day[second_day.date()]
    assert (first.visited_clients, first.returning_clients) == (2, 1)
    assert (second.visited_clients, second.returning_clients) == (1, 1)
