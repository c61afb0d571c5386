"""Branches, services and clients in admin: what a manager may change, and client search."""

from datetime import date, timedelta

import pytest
from django.urls import reverse

from clients.models import Client, ClientPhone
from tests.admin.conftest import MARKER
from tests.factories import ClientFactory, ServiceFactory
from workshops.models import ClosedDay, Workshop


def form_data(response) -> dict:
    """The change page's form and inline formsets as a browser would post them back."""
    data: dict = {}

    def add(form) -> None:
        for bound in form:
            value = bound.value()
            if value is None:
                continue
            if isinstance(value, bool):
                if value:
                    data[bound.html_name] = "on"
            elif isinstance(value, (list, tuple)):
                # A browser posts only options the select shows.
                shown = {str(pk) for pk in bound.field.queryset.values_list("pk", flat=True)}
                data[bound.html_name] = [str(item) for item in value if str(item) in shown]
            else:
                data[bound.html_name] = str(value)

    add(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        add(inline.formset.management_form)
        for form in inline.formset.forms:
            add(form)
    return data


def change_url(obj) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def test_only_owners_add_branches(manager_client, owner_client):
    assert manager_client.get(reverse("admin:workshops_workshop_add")).status_code == 403
    assert owner_client.get(reverse("admin:workshops_workshop_add")).status_code == 200


def test_a_manager_sets_a_closed_day_for_their_branch(alpha, manager_client):
    page = manager_client.get(change_url(alpha.workshop))
    data = form_data(page)
    holiday = date.today() + timedelta(days=40)
    data.update({
        "closed_days-TOTAL_FORMS": str(int(data["closed_days-TOTAL_FORMS"]) + 1),
        f"closed_days-{data['closed_days-TOTAL_FORMS']}-date": holiday.isoformat(),
        f"closed_days-{data['closed_days-TOTAL_FORMS']}-reason": "Санитарный день",
    })
    response = manager_client.post(change_url(alpha.workshop), data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    assert ClosedDay.objects.filter(workshop=alpha.workshop, date=holiday, reason="Санитарный день").exists()


def test_a_manager_cannot_rename_the_branch_code(alpha, manager_client):
    page = manager_client.get(change_url(alpha.workshop))
    data = form_data(page)
    data["slug"] = "hacked"
    manager_client.post(change_url(alpha.workshop), data)
    assert Workshop.objects.get(pk=alpha.workshop.pk).slug == "alpha"


def test_a_service_shared_with_another_branch_is_read_only_for_a_manager(alpha, beta, manager_client):
    shared = ServiceFactory(name="Диагностика", workshops=[alpha.workshop, beta.workshop])
    page = manager_client.get(change_url(shared))
    assert page.status_code == 200
    assert MARKER not in page.content.decode(), "the other branch is not even named"
    manager_client.post(change_url(shared), {"name": "Взлом", "duration_minutes": 5, "workshops": [alpha.workshop.pk]})
    shared.refresh_from_db()
    assert shared.name == "Диагностика"
    assert set(shared.workshops.all()) == {alpha.workshop, beta.workshop}


def test_editing_a_client_keeps_links_to_branches_the_manager_cannot_see(alpha, beta, manager_client):
    alpha.client.workshops.add(beta.workshop)
    page = manager_client.get(change_url(alpha.client))
    data = form_data(page)
    assert data["workshops"] == [str(alpha.workshop.pk)], "only the manager's branch is offered"
    data["name"] = "Клиент Альфа-Плюс"
    response = manager_client.post(change_url(alpha.client), data)
    assert response.status_code == 302
    alpha.client.refresh_from_db()
    assert alpha.client.name == "Клиент Альфа-Плюс"
    assert set(alpha.client.workshops.all()) == {alpha.workshop, beta.workshop}


def test_a_client_added_by_a_manager_must_belong_to_their_branch(alpha, manager_client):
    page = manager_client.get(reverse("admin:clients_client_add"))
    data = form_data(page)
    assert data["workshops"] == [str(alpha.workshop.pk)], "their branch is preselected"
    data.update({"name": "Без филиала", "workshops": []})
    response = manager_client.post(reverse("admin:clients_client_add"), data)
    assert response.status_code == 200
    assert "свой филиал" in response.content.decode()
    assert not Client.objects.filter(name="Без филиала").exists()


def test_a_name_typed_in_admin_is_stored_on_one_line_without_control_characters(alpha, manager_client):
    data = form_data(manager_client.get(change_url(alpha.client)))
    data["name"] = "Иван\x07ов\r\n  Иван"
    assert manager_client.post(change_url(alpha.client), data).status_code == 302
    alpha.client.refresh_from_db()
    assert alpha.client.name == "Иванов Иван"

    data["name"] = "\x0b123"
    response = manager_client.post(change_url(alpha.client), data)
    assert response.status_code == 200 and "хотя бы одну букву" in response.content.decode()
    alpha.client.refresh_from_db()
    assert alpha.client.name == "Иванов Иван"


def test_a_phone_typed_in_any_format_is_stored_in_e164_and_a_bad_one_is_refused(alpha, manager_client):
    page = manager_client.get(change_url(alpha.client))
    data = form_data(page)
    new = data["phones-TOTAL_FORMS"]
    data.update({"phones-TOTAL_FORMS": str(int(new) + 1), f"phones-{new}-number": "8 (495) 123-45-67",
                 f"phones-{new}-position": "1"})
    assert manager_client.post(change_url(alpha.client), data).status_code == 302
    assert ClientPhone.objects.filter(client=alpha.client, number="+74951234567").exists()

    data = form_data(manager_client.get(change_url(alpha.client)))
    new = data["phones-TOTAL_FORMS"]
    data.update({"phones-TOTAL_FORMS": str(int(new) + 1), f"phones-{new}-number": "111-11-11",
                 f"phones-{new}-position": "2"})
    response = manager_client.post(change_url(alpha.client), data)
    assert response.status_code == 200
    assert ClientPhone.objects.filter(client=alpha.client).count() == 2


@pytest.mark.parametrize("typed", ["8 (912) 111-00-01", "+7-912-111-00-01", "79121110001", "00-01"])
def test_clients_are_found_by_phone_in_any_format(alpha, manager_client, typed):
    response = manager_client.get(reverse("admin:clients_client_changelist"), {"q": typed})
    assert [c.pk for c in response.context["cl"].result_list] == [alpha.client.pk]


@pytest.mark.parametrize("typed", ["a111aa77", "А 111 АА 77", "a111aa77rus", "111аа"])
def test_clients_are_found_by_plate_in_any_spelling(alpha, manager_client, typed):
    response = manager_client.get(reverse("admin:clients_client_changelist"), {"q": typed})
    assert [c.pk for c in response.context["cl"].result_list] == [alpha.client.pk]


def test_clients_are_found_by_name_words_in_any_order(alpha, manager_client):
    response = manager_client.get(reverse("admin:clients_client_changelist"), {"q": "альфа клиент"})
    assert [c.pk for c in response.context["cl"].result_list] == [alpha.client.pk]


ANNA, ANDREY = "Анна Сергеевна Ёжикова", "Андрей Ежов"


@pytest.mark.parametrize(("typed", "found"), [
    ("ёжиков", [ANNA]), ("ЁЖИК", [ANNA]), ("ергеевн", [ANNA]), ("жИкОвА", [ANNA]), ("ёжикова анна", [ANNA]),
    ("ежов", [ANDREY]),
    ("ан", [ANDREY, ANNA]),  # shorter than a trigram: the index cannot narrow it, the search still finds both
])
def test_clients_are_found_by_any_part_of_a_name_in_any_case(alpha, manager_client, typed, found):
    for name in (ANNA, ANDREY):
        ClientFactory(name=name).workshops.add(alpha.workshop)
    response = manager_client.get(reverse("admin:clients_client_changelist"), {"q": typed})
    assert [c.name for c in response.context["cl"].result_list] == found


def test_a_search_never_finds_another_branchs_client(alpha, beta, manager_client):
    for typed in ("+7 912 222-00-02", "В222ВВ77", MARKER):
        response = manager_client.get(reverse("admin:clients_client_changelist"), {"q": typed})
        assert list(response.context["cl"].result_list) == []
