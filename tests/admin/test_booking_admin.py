"""The bookings list and booking page: local times, writes through the engine, status actions."""

from datetime import datetime, time, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from bookings.models import Booking, BookingChannel, BookingHistory, BookingStatus
from bookings.services import booking_create
from clients.models import Client
from tests.conftest import next_weekday
from tests.factories import BayFactory, BookingFactory, ClientFactory, VehicleFactory

CHANGELIST = reverse("admin:bookings_booking_changelist")
ADD = reverse("admin:bookings_booking_add")


def change_url(booking: Booking) -> str:
    return reverse("admin:bookings_booking_change", args=[booking.pk])


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def counts() -> tuple[int, int, int]:
    return Booking.objects.count(), BookingHistory.objects.count(), Client.objects.count()


@pytest.fixture
def ekb(beta):
    """Бета is in Yekaterinburg (UTC+5); the tests use it through its owner-visible data."""
    return beta


def test_the_list_shows_times_in_the_branchs_own_time_zone(ekb, owner_client):
    starts = datetime.combine(timezone.localdate() + timedelta(days=3), time(10), tzinfo=ekb.workshop.tz)
    booking = BookingFactory(
        workshop=ekb.workshop, bay=ekb.bay, service=ekb.service, client=ekb.client,
        starts_at=starts, ends_at=starts + timedelta(hours=1),
    )
    assert booking.starts_at.astimezone(dt_timezone.utc).hour == 5, "stored in UTC"
    response = owner_client.get(CHANGELIST)
    assert f"{starts:%d.%m.%Y} 10:00–11:00" in response.content.decode()


def test_the_list_costs_the_same_queries_for_few_and_many_rows(alpha, manager_client, django_assert_max_num_queries):
    manager_client.get(CHANGELIST)  # warm the session and permission caches
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        manager_client.get(CHANGELIST)
    start = timezone.now() - timedelta(days=30)
    for i in range(30):
        BookingFactory(
            workshop=alpha.workshop, bay=alpha.bay, service=alpha.service, client=ClientFactory(phone=f"+7912555{i:04d}"),
            vehicle=None, starts_at=start + timedelta(hours=i), ends_at=start + timedelta(hours=i, minutes=30),
            status=BookingStatus.COMPLETED,
        )
    with CaptureQueriesContext(connection) as many:
        manager_client.get(CHANGELIST)
    assert len(many) == len(few)
    assert not any("COUNT(" in q["sql"].upper() for q in many.captured_queries), "no full counts"


def test_a_manager_books_a_new_caller_through_the_engine(alpha, manager, manager_client):
    starts = next_weekday(2, alpha.workshop.tz, 11)
    response = manager_client.post(ADD, {
        "phone": "8 (922) 333-44-55", "name": "Пётр Сидоров", "plate": "м777мм 77",
        "workshop": alpha.workshop.pk, "service": alpha.service.pk,
        "day": starts.date().isoformat(), "start_time": "11:00", "comment": "стучит подвеска",
    })
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    booking = Booking.objects.latest("pk")
    assert (booking.channel, booking.created_by, booking.starts_at) == (BookingChannel.PHONE, manager, starts)
    assert booking.client.name == "Пётр Сидоров"
    assert list(booking.client.phones.values_list("number", flat=True)) == ["+79223334455"]
    assert booking.vehicle.plate == "М777ММ77"
    assert list(booking.history.values_list("event", "by_user")) == [("created", manager.pk)]


def test_a_comment_longer_than_a_booking_keeps_is_a_form_error_not_cut(alpha, manager_client):
    starts = next_weekday(2, alpha.workshop.tz, 11)
    before = counts()

    response = manager_client.post(ADD, {
        "phone": "8 (922) 333-44-55", "name": "Пётр Сидоров", "workshop": alpha.workshop.pk,
        "service": alpha.service.pk, "day": starts.date().isoformat(), "start_time": "11:00",
        "comment": "стучит подвеска; " * 200,
    })

    assert response.status_code == 200
    assert "не более 2000 символов" in response.content.decode().replace("\xa0", " ")
    assert counts() == before


def test_a_taken_time_is_refused_in_russian_and_nothing_is_written(alpha, manager_client):
    starts = next_weekday(2, alpha.workshop.tz, 11)
    booking_create(
        workshop=alpha.workshop, service=alpha.service, client=alpha.client, starts_at=starts, channel="web"
    )
    before = counts()
    response = manager_client.post(ADD, {
        "phone": "+7 922 333-44-56", "name": "Новый Клиент", "workshop": alpha.workshop.pk,
        "service": alpha.service.pk, "day": starts.date().isoformat(), "start_time": "11:00",
    })
    assert response.status_code == 200
    errors = " ".join(response.context["adminform"].form.non_field_errors())
    assert "уже занято" in errors
    assert counts() == before, "no booking, no history, and the new caller was not kept either"


def test_a_time_outside_hours_is_refused_with_the_rule(alpha, manager_client):
    day = next_weekday(2, alpha.workshop.tz).date()
    before = counts()
    response = manager_client.post(ADD, {
        "client": alpha.client.pk, "workshop": alpha.workshop.pk, "service": alpha.service.pk,
        "day": day.isoformat(), "start_time": "21:00",
    })
    assert "работает с 09:00 до 19:00" in " ".join(response.context["adminform"].form.non_field_errors())
    assert counts() == before


def test_rescheduling_on_the_booking_page_goes_through_the_engine(alpha, manager, manager_client):
    starts = next_weekday(3, alpha.workshop.tz, 10)
    booking = booking_create(
        workshop=alpha.workshop, service=alpha.service, client=alpha.client, starts_at=starts, channel="telegram"
    )
    response = manager_client.post(change_url(booking), {
        "day": starts.date().isoformat(), "start_time": "15:00", "bay": booking.bay_id, "reason": "попросил позже",
    })
    assert response.status_code == 302
    booking.refresh_from_db()
    assert booking.starts_at == starts.replace(hour=15)
    moved = booking.history.get(event="rescheduled")
    assert (moved.by_user, moved.reason, moved.old_starts_at) == (manager, "попросил позже", starts)


def test_rescheduling_into_a_break_is_refused_and_nothing_moves(alpha, manager_client):
    starts = next_weekday(3, alpha.workshop.tz, 10)
    booking = booking_create(
        workshop=alpha.workshop, service=alpha.service, client=alpha.client, starts_at=starts, channel="telegram"
    )
    response = manager_client.post(change_url(booking), {
        "day": starts.date().isoformat(), "start_time": "13:00", "bay": booking.bay_id,
    })
    assert "перерыв" in " ".join(response.context["adminform"].form.non_field_errors())
    booking.refresh_from_db()
    assert booking.starts_at == starts and booking.history.count() == 1


def test_the_booking_page_shows_its_history_read_only(alpha, manager_client):
    response = manager_client.get(change_url(alpha.booking))
    content = response.content.decode()
    assert "Бот Альфа" in content, "who created it"
    assert 'name="status"' not in content, "status is changed only by the buttons"


def test_the_status_buttons_offer_only_allowed_moves(alpha, manager_client):
    starts = next_weekday(3, alpha.workshop.tz, 10)
    booking = booking_create(
        workshop=alpha.workshop, service=alpha.service, client=alpha.client, starts_at=starts, channel="web"
    )
    response = manager_client.get(change_url(booking))
    offered = {action["title"] for action in response.context["actions_detail"]}
    assert offered == {"Подтвердить", "Отменить"}


def test_a_status_button_applies_the_move_and_records_who_and_why(alpha, manager, manager_client):
    starts = next_weekday(3, alpha.workshop.tz, 10)
    booking = booking_create(
        workshop=alpha.workshop, service=alpha.service, client=alpha.client, starts_at=starts, channel="web"
    )
    url = reverse("admin:bookings_booking_detail_confirm", args=[booking.pk])
    response = manager_client.post(url, {"_form_submitted": "on", "reason": "созвонились"})
    assert response.status_code == 302
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED
    last = booking.history.last()
    assert (last.from_status, last.to_status, last.by_user, last.reason) == ("new", "confirmed", manager, "созвонились")


def test_a_refused_status_button_says_why_and_changes_nothing(alpha, manager_client):
    starts = next_weekday(3, alpha.workshop.tz, 10)
    booking = booking_create(
        workshop=alpha.workshop, service=alpha.service, client=alpha.client, starts_at=starts, channel="web"
    )
    url = reverse("admin:bookings_booking_detail_complete", args=[booking.pk])
    response = manager_client.post(url, {"_form_submitted": "on"})
    assert any("Нельзя перевести запись" in m for m in messages_of(response))
    booking.refresh_from_db()
    assert booking.status == BookingStatus.NEW and booking.history.count() == 1


def test_bulk_actions_apply_allowed_moves_and_report_each_refusal(alpha, manager, manager_client):
    past = timezone.now() - timedelta(days=2)
    ok = BookingFactory(workshop=alpha.workshop, bay=alpha.bay, service=alpha.service, client=alpha.client,
                        starts_at=past, ends_at=past + timedelta(hours=1), status=BookingStatus.CONFIRMED)
    cancelled = BookingFactory(workshop=alpha.workshop, bay=alpha.bay, service=alpha.service, client=alpha.client,
                               starts_at=past + timedelta(hours=2), ends_at=past + timedelta(hours=3),
                               status=BookingStatus.CANCELLED)
    response = manager_client.post(CHANGELIST, {
        "action": "complete_selected", ACTION_CHECKBOX_NAME: [ok.pk, cancelled.pk], "index": 0,
    })
    ok.refresh_from_db()
    cancelled.refresh_from_db()
    assert ok.status == BookingStatus.COMPLETED
    assert ok.history.get(event="status").by_user == manager
    assert cancelled.status == BookingStatus.CANCELLED and not cancelled.history.exists()
    said = messages_of(response)
    assert any("1 из 2" in m for m in said)
    assert any(f"№{cancelled.pk}" in m and "Нельзя перевести" in m for m in said)


def test_bulk_actions_report_ids_they_could_not_find(alpha, beta, manager_client):
    response = manager_client.post(CHANGELIST, {
        "action": "cancel_selected", ACTION_CHECKBOX_NAME: [alpha.booking.pk, beta.booking.pk], "index": 0,
    })
    assert Booking.objects.get(pk=beta.booking.pk).status == BookingStatus.CONFIRMED
    assert Booking.objects.get(pk=alpha.booking.pk).status == BookingStatus.CANCELLED
    assert any("Не найдено или недоступно записей: 1" in m for m in messages_of(response))


@pytest.mark.parametrize("typed", ["8 (912) 111-00-01", "+7 912 111 00 01", "89121110001", "9121110001", "0001"])
def test_bookings_are_found_by_the_clients_phone_in_any_format(alpha, manager_client, typed):
    response = manager_client.get(CHANGELIST, {"q": typed})
    assert [b.pk for b in response.context["cl"].result_list] == [alpha.booking.pk]


@pytest.mark.parametrize("typed", ["а111аа77", "A111AA 77", "А 111 АА 77 RUS", "111АА"])
def test_bookings_are_found_by_plate_in_any_spelling(alpha, manager_client, typed):
    response = manager_client.get(CHANGELIST, {"q": typed})
    assert [b.pk for b in response.context["cl"].result_list] == [alpha.booking.pk]


def test_bookings_are_found_by_client_name(alpha, manager_client):
    response = manager_client.get(CHANGELIST, {"q": "клиент альфа"})
    assert [b.pk for b in response.context["cl"].result_list] == [alpha.booking.pk]


def test_bookings_are_found_by_part_of_the_clients_name_in_any_case(alpha, manager_client):
    alpha.client.name = "Пётр Ильич Чайковский"
    alpha.client.save()
    for typed in ("чайков", "ЙКОВС", "пётр ильич"):
        response = manager_client.get(CHANGELIST, {"q": typed})
        assert [b.pk for b in response.context["cl"].result_list] == [alpha.booking.pk], typed


def test_the_day_filter_uses_each_branchs_local_date(alpha, beta, owner_client):
    """Late evening in Yekaterinburg is still «today» there, whatever Moscow's date is."""
    for branch in (alpha, beta):
        today = timezone.now().astimezone(branch.workshop.tz).date()
        starts = datetime.combine(today, time(23, 30), tzinfo=branch.workshop.tz)
        BookingFactory(workshop=branch.workshop, bay=BayFactory(workshop=branch.workshop), service=branch.service,
                       client=branch.client, starts_at=starts, ends_at=starts + timedelta(minutes=20),
                       status=BookingStatus.COMPLETED, comment="today")
    response = owner_client.get(CHANGELIST, {"day": "today"})
    assert {b.comment for b in response.context["cl"].result_list} == {"today"}
    assert len(response.context["cl"].result_list) == 2


def test_the_vehicle_autocomplete_finds_a_plate_in_any_spelling(alpha, manager_client):
    VehicleFactory(client=alpha.client, plate="Х999ХХ99")
    response = manager_client.get(reverse("admin:autocomplete"), {
        "app_label": "bookings", "model_name": "booking", "field_name": "vehicle", "term": "x999xx99",
    })
    assert [row["text"] for row in response.json()["results"]] == ["Lada Vesta Х999ХХ99"]


def test_the_rating_time_is_the_branchs_local_time_as_every_other_time(ekb, owner_client):
    starts = datetime(2026, 11, 20, 10, 0, tzinfo=ekb.workshop.tz)
    booking = BookingFactory(workshop=ekb.workshop, bay=ekb.bay, service=ekb.service, client=ekb.client,
                             starts_at=starts, ends_at=starts + timedelta(hours=1), status=BookingStatus.COMPLETED)
    Booking.objects.filter(pk=booking.pk).update(rating=5, rated_at=datetime(2026, 11, 20, 12, 0, tzinfo=dt_timezone.utc))

    page = owner_client.get(change_url(booking)).content.decode()

    assert "20.11.2026 10:00–11:00" in page
    assert "20.11.2026 17:00" in page, "12:00 UTC is 17:00 in Yekaterinburg"
