"""The day journal: bays × time in the branch's local time; booking a phone caller from a cell."""

from datetime import datetime, time, timedelta
from urllib.parse import urlencode

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from bookings.models import Booking, BookingChannel, BookingHistory, BookingStatus
from bookings.services import booking_create
from clients.models import Client, ClientPhone
from tests.admin.conftest import MARKER
from tests.conftest import next_weekday
from tests.factories import BayFactory, BookingFactory, ClientFactory
from workshops.models import ClosedDay

JOURNAL = reverse("admin:bookings_booking_journal")


def journal_url(workshop, day, **extra) -> str:
    return f"{JOURNAL}?{urlencode({'workshop': workshop.pk, 'day': day.isoformat(), **extra})}"


def counts() -> tuple[int, int, int, int]:
    return Booking.objects.count(), BookingHistory.objects.count(), Client.objects.count(), ClientPhone.objects.count()


def test_it_shows_the_days_bookings_in_the_branchs_local_time(beta, owner_client):
    """Бета is in Yekaterinburg: a 10:00 visit is stored as 05:00 UTC and drawn at 10:00."""
    starts = next_weekday(1, beta.workshop.tz, 10)
    booking = booking_create(
        workshop=beta.workshop, service=beta.service, client=beta.client, starts_at=starts, channel="telegram"
    )
    assert booking.starts_at.utctimetuple().tm_hour == 5
    response = owner_client.get(journal_url(beta.workshop, starts.date()))
    assert response.status_code == 200
    layout = response.context["journal"]
    blocks = [block for column in layout.columns for block in column.blocks]
    assert [(b.booking.pk, b.time_label) for b in blocks] == [(booking.pk, "10:00–11:00")]
    content = response.content.decode()
    assert "10:00–11:00 Клиент Бета" in content
    assert reverse("admin:bookings_booking_change", args=[booking.pk]) in content, "a click opens the booking"
    assert "status-new" in content, "coloured by status"


def test_it_draws_the_grid_with_hours_break_and_free_cells(alpha, manager_client):
    day = next_weekday(1, alpha.workshop.tz).date()
    response = manager_client.get(journal_url(alpha.workshop, day))
    layout = response.context["journal"]
    assert layout.marks[0][0] == "09:00" and layout.marks[-1][0] == "18:30"
    assert [label for _top, _height, label in layout.shaded] == ["перерыв"]
    cells = [cell.label for cell in layout.columns[0].cells]
    assert cells[0] == "09:00" and "13:00" not in cells and cells[-1] == "18:30"
    assert journal_url(alpha.workshop, day, bay=alpha.bay.pk, time="09:00") in response.content.decode().replace("&amp;", "&")


def test_a_closed_day_is_shown_closed(alpha, manager_client):
    day = next_weekday(2, alpha.workshop.tz).date()
    ClosedDay.objects.create(workshop=alpha.workshop, date=day, reason="инвентаризация")
    response = manager_client.get(journal_url(alpha.workshop, day))
    assert response.context["journal"].closed_text == "Нерабочий день"
    assert all(not column.cells for column in response.context["journal"].columns)
    assert "Нерабочий день" in response.content.decode()


def test_it_defaults_to_today_in_the_branchs_time_zone(alpha, manager_client):
    from django.utils import timezone

    response = manager_client.get(JOURNAL)
    assert response.context["workshop"] == alpha.workshop
    assert response.context["day"] == timezone.now().astimezone(alpha.workshop.tz).date()


def test_a_free_cell_opens_the_booking_form_for_that_bay_and_time(alpha, manager_client):
    day = next_weekday(1, alpha.workshop.tz).date()
    response = manager_client.get(journal_url(alpha.workshop, day, bay=alpha.bay.pk, time="11:30"))
    assert response.context["form"] is not None
    assert response.context["form_bay"] == alpha.bay
    content = response.content.decode()
    assert "Записать клиента" in content and "11:30" in content


def test_it_books_a_caller_into_the_clicked_bay_through_the_engine(alpha, manager, manager_client):
    second_bay = BayFactory(workshop=alpha.workshop, name="Подъёмник 2", position=5)
    starts = next_weekday(1, alpha.workshop.tz, 11, 30)
    response = manager_client.post(journal_url(alpha.workshop, starts.date()), {
        "bay": second_bay.pk, "start_time": "11:30", "phone": "8 922 444-55-66", "name": "Анна Смирнова",
        "service": alpha.service.pk, "plate": "о123оо 199", "comment": "после ДТП",
    })
    assert response.status_code == 302
    booking = Booking.objects.get(client__phones__number="+79224445566")
    assert (booking.bay, booking.starts_at, booking.channel, booking.created_by) == (
        second_bay, starts, BookingChannel.PHONE, manager
    )
    assert booking.client.name == "Анна Смирнова" and booking.vehicle.plate == "О123ОО199"
    assert alpha.workshop in booking.client.workshops.all()
    assert booking.history.get().by_user == manager
    assert any("Записали: Анна Смирнова" in str(m) for m in get_messages(response.wsgi_request))


def test_a_known_caller_is_booked_under_their_existing_client(alpha, manager_client):
    starts = next_weekday(1, alpha.workshop.tz, 12)
    manager_client.post(journal_url(alpha.workshop, starts.date()), {
        "bay": alpha.bay.pk, "start_time": "12:00", "phone": "8 (912) 111-00-01", "name": "",
        "service": alpha.service.pk,
    })
    assert Booking.objects.get(starts_at=starts).client == alpha.client


def test_a_taken_cell_is_refused_in_russian_and_nothing_is_written(alpha, manager_client):
    starts = next_weekday(1, alpha.workshop.tz, 10)
    booking_create(workshop=alpha.workshop, service=alpha.service, client=alpha.client, starts_at=starts, channel="web")
    before = counts()
    response = manager_client.post(journal_url(alpha.workshop, starts.date()), {
        "bay": alpha.bay.pk, "start_time": "10:30", "phone": "+7 922 444-55-67", "name": "Новый Звонок",
        "service": alpha.service.pk, "plate": "Е001КХ77",
    })
    assert response.status_code == 200
    assert "уже занято" in " ".join(response.context["form"].non_field_errors())
    assert "уже занято" in response.content.decode(), "shown on the page, with the form still open"
    assert counts() == before


@pytest.mark.parametrize(("field", "value", "message"), [
    ("phone", "12345", "Номер «12345»"),
    ("name", "", "Укажите имя"),
    ("plate", "XYZ", "Госномер"),
    ("start_time", "13:30", "перерыв"),
])
def test_bad_input_is_refused_with_a_message_and_writes_nothing(alpha, manager_client, field, value, message):
    starts = next_weekday(1, alpha.workshop.tz, 12)
    data = {"bay": alpha.bay.pk, "start_time": "12:00", "phone": "+7 922 444-55-68", "name": "Ирина",
            "service": alpha.service.pk, "plate": ""}
    data[field] = value
    before = counts()
    response = manager_client.post(journal_url(alpha.workshop, starts.date()), data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert counts() == before


def test_another_branchs_journal_is_refused(alpha, beta, manager_client):
    day = next_weekday(1, beta.workshop.tz).date()
    response = manager_client.get(journal_url(beta.workshop, day))
    assert response.status_code == 404
    assert MARKER not in response.content.decode()
    before = counts()
    response = manager_client.post(journal_url(beta.workshop, day), {
        "bay": beta.bay.pk, "start_time": "10:00", "phone": "+7 922 444-55-69", "name": "Чужой",
        "service": beta.service.pk,
    })
    assert response.status_code == 404
    assert counts() == before


def test_a_bay_of_another_branch_cannot_be_booked_from_my_journal(alpha, beta, manager_client):
    starts = next_weekday(1, alpha.workshop.tz, 10)
    before = counts()
    response = manager_client.post(journal_url(alpha.workshop, starts.date()), {
        "bay": beta.bay.pk, "start_time": "10:00", "phone": "+7 922 444-55-70", "name": "Хитрый",
        "service": alpha.service.pk,
    })
    assert response.status_code == 200 and counts() == before


def test_the_branch_picker_lists_only_my_branches(alpha, beta, manager_client):
    response = manager_client.get(JOURNAL)
    assert response.context["workshops"] == [alpha.workshop]
    assert MARKER not in response.content.decode()


def test_the_journal_costs_the_same_queries_whatever_the_number_of_bookings(alpha, manager_client):
    day = next_weekday(1, alpha.workshop.tz).date()
    url = journal_url(alpha.workshop, day)
    one = datetime.combine(day, time(17), tzinfo=alpha.workshop.tz)
    booking_create(workshop=alpha.workshop, service=alpha.service, client=alpha.client, starts_at=one, channel="web")
    manager_client.get(url)
    with CaptureQueriesContext(connection) as few:
        manager_client.get(url)
    bays = [BayFactory(workshop=alpha.workshop, name=f"Пост {i}") for i in range(4)]
    for bay in bays:
        for hour in (9, 10, 11, 14, 15, 16):
            starts = datetime.combine(day, time(hour), tzinfo=alpha.workshop.tz)
            BookingFactory(workshop=alpha.workshop, bay=bay, service=alpha.service,
                           client=ClientFactory(phone=f"+7912666{bay.pk % 100:02d}{hour:02d}"),
                           starts_at=starts, ends_at=starts + timedelta(hours=1), status=BookingStatus.CONFIRMED)
    with CaptureQueriesContext(connection) as many:
        response = manager_client.get(url)
    assert sum(len(column.blocks) for column in response.context["journal"].columns) == 25
    assert len(many) == len(few)


def test_the_form_offers_only_services_the_clicked_bay_can_take(alpha, manager_client):
    from tests.factories import ServiceFactory
    from workshops.models import BayKind

    tyres = ServiceFactory(name="Шиномонтаж", bay_kind=BayKind.TYRE, workshops=[alpha.workshop])
    anywhere = ServiceFactory(name="Осмотр", bay_kind="", workshops=[alpha.workshop])
    day = next_weekday(1, alpha.workshop.tz).date()
    response = manager_client.get(journal_url(alpha.workshop, day, bay=alpha.bay.pk, time="11:30"))
    offered = set(response.context["form"].fields["service"].queryset)
    assert offered == {alpha.service, anywhere}
    assert tyres not in offered
