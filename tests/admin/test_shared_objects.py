"""Clients and cars two branches share: staff of one branch cannot delete them from under the other,
nor read who of the other branch's staff changed them.

A client imported into both branches is visible to Альфа's manager;
deleting it would take it, with its phones, cars and consents, from Бета too. Only an owner may.
"""

from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from bookings.models import Booking
from clients.models import Client, ClientPhone, Vehicle
from tests.admin.test_branch_and_client_admin import form_data
from tests.factories import ClientFactory, VehicleFactory

REFUSAL = "есть и в другом филиале: удалить может только владелец"


def _shared_client_without_visits(alpha, beta) -> Client:
    """Бета's client, imported into Альфа as well, with no bookings yet (they would protect it anyway)."""
    client = beta.client
    client.workshops.add(alpha.workshop)
    Booking.objects.filter(client=client).delete()
    return client


def test_the_delete_page_refuses_a_client_another_branch_shares(alpha, beta, manager_client):
    client = _shared_client_without_visits(alpha, beta)
    url = reverse("admin:clients_client_delete", args=[client.pk])

    page = manager_client.get(url)
    manager_client.post(url, {"post": "yes"})

    assert REFUSAL in page.content.decode()
    assert Client.objects.filter(pk=client.pk).exists()
    assert ClientPhone.objects.filter(client=client).exists()
    assert set(client.workshops.values_list("pk", flat=True)) == {alpha.workshop.pk, beta.workshop.pk}


def test_the_bulk_delete_refuses_when_one_chosen_client_is_shared(alpha, beta, manager_client):
    shared = _shared_client_without_visits(alpha, beta)
    own = ClientFactory(name="Только Альфа", phone="+79123334455")
    own.workshops.add(alpha.workshop)

    response = manager_client.post(reverse("admin:clients_client_changelist"), {
        "action": "delete_selected", ACTION_CHECKBOX_NAME: [str(shared.pk), str(own.pk)], "post": "yes",
    })

    assert REFUSAL in response.content.decode()
    assert Client.objects.filter(pk__in=[shared.pk, own.pk]).count() == 2


def test_a_client_only_this_branch_serves_is_deleted(alpha, manager_client):
    own = ClientFactory(name="Только Альфа", phone="+79123334455")
    own.workshops.add(alpha.workshop)

    manager_client.post(reverse("admin:clients_client_delete", args=[own.pk]), {"post": "yes"})

    assert not Client.objects.filter(pk=own.pk).exists()


def test_the_owner_deletes_a_shared_client(alpha, beta, owner_client):
    client = _shared_client_without_visits(alpha, beta)

    owner_client.post(reverse("admin:clients_client_delete", args=[client.pk]), {"post": "yes"})

    assert not Client.objects.filter(pk=client.pk).exists()


def test_a_car_with_another_branchs_booking_keeps_it(alpha, beta, manager_client):
    beta.client.workshops.add(alpha.workshop)  # the client also comes to Альфа, so Альфа sees the car
    url = reverse("admin:clients_vehicle_delete", args=[beta.vehicle.pk])

    page = manager_client.get(url)
    manager_client.post(url, {"post": "yes"})

    assert "по нему есть записи в другом филиале: удалить автомобиль может только владелец" in page.content.decode()
    beta.booking.refresh_from_db()
    assert beta.booking.vehicle_id == beta.vehicle.pk


def test_the_client_pages_delete_box_of_a_car_another_branch_booked_is_refused(alpha, beta, manager_client):
    beta.client.workshops.add(alpha.workshop)
    url = reverse("admin:clients_client_change", args=[beta.client.pk])
    data = form_data(manager_client.get(url))
    [index] = [key.split("-")[1] for key, value in data.items() if key.endswith("-id") and key.startswith("vehicles-")
               and value == str(beta.vehicle.pk)]
    data[f"vehicles-{index}-DELETE"] = "on"

    response = manager_client.post(url, data)

    assert response.status_code == 200
    assert "по нему есть записи в другом филиале" in response.content.decode()
    beta.booking.refresh_from_db()
    assert Vehicle.objects.filter(pk=beta.vehicle.pk).exists() and beta.booking.vehicle_id == beta.vehicle.pk


def test_a_shared_clients_car_without_other_bookings_is_deleted(alpha, beta, manager_client):
    beta.client.workshops.add(alpha.workshop)
    sold = VehicleFactory(client=beta.client, make="Продана", plate="Е333ЕЕ77")

    manager_client.post(reverse("admin:clients_vehicle_delete", args=[sold.pk]), {"post": "yes"})

    assert not Vehicle.objects.filter(pk=sold.pk).exists()


def _changed_by(user, client: Client) -> None:
    LogEntry.objects.create(  # what Django writes when ``user`` saves the client in admin
        user=user, content_type=ContentType.objects.get_for_model(Client), object_id=str(client.pk),
        object_repr=client.name, action_flag=CHANGE, change_message='[{"changed": {"fields": ["comment"]}}]',
    )


def test_the_history_of_a_shared_client_does_not_name_the_other_branchs_staff(alpha, beta, manager, owner,
                                                                              manager_client, owner_client):
    beta.client.workshops.add(alpha.workshop)
    for user in (beta.membership.user, alpha.membership.user, owner):
        _changed_by(user, beta.client)
    url = reverse("admin:clients_client_history", args=[beta.client.pk])

    seen_by_alpha = manager_client.get(url).content.decode()
    seen_by_owner = owner_client.get(url).content.decode()

    assert "staff-beta" not in seen_by_alpha and "сотрудник другого филиала" in seen_by_alpha
    assert "staff-alpha" in seen_by_alpha and "owner" in seen_by_alpha
    assert seen_by_alpha.count("Изменено") == 3, "every change is still listed"
    assert "staff-beta" in seen_by_owner
