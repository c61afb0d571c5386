"""client_get_or_create_by_phone and vehicle_add."""

import pytest

from clients.models import Client, ClientPhone, Vehicle
from clients.normalize import InvalidPhone, InvalidPlate
from clients.services import InvalidName, client_get_or_create_by_phone, vehicle_add
from tests.factories import ClientFactory, VehicleFactory
from workshops.errors import DomainError


def test_a_known_phone_in_another_format_finds_the_same_client(client_ivan, workshop):
    found, created = client_get_or_create_by_phone(phone="8 (912) 123-45-67", name="Ваня", workshop=workshop)
    assert (found, created) == (client_ivan, False)
    assert found.name == "Иван Петров", "an existing name is never overwritten"
    assert workshop in found.workshops.all()


def test_a_new_phone_creates_a_client_with_that_name(db):
    client, created = client_get_or_create_by_phone(phone="+7 922 000-11-22", name="  Анна   Смирнова ")
    assert created and client.name == "Анна Смирнова"
    assert list(client.phones.values_list("number", flat=True)) == ["+79220001122"]


def test_control_characters_are_dropped_from_a_new_clients_name_and_line_breaks_become_spaces(db):
    client, _created = client_get_or_create_by_phone(phone="+79220001122", name="Иван\x07ов\tИван\r\nПетро\x1bвич\x0b")
    assert client.name == "Иванов Иван Петрович"


@pytest.mark.parametrize(("phone", "name", "error"), [
    ("12345", "Анна", InvalidPhone), ("+79220001122", "", InvalidName), ("+79220001122", "12345", InvalidName),
    ("+79220001122", "\x00\x00", InvalidName), ("+79220001122", "Я" * 301, InvalidName),
    ("+79220001122", "\x07\x1b\x9b", InvalidName),
])
def test_bad_phone_or_name_writes_nothing(db, phone, name, error):
    with pytest.raises(error):
        client_get_or_create_by_phone(phone=phone, name=name)
    assert Client.objects.count() == 0 and ClientPhone.objects.count() == 0


def test_vehicle_add_normalises_and_does_not_duplicate(client_ivan):
    car = vehicle_add(client=client_ivan, plate="a 123 bc 77", make="Kia", model="Rio")
    assert car.plate == "А123ВС77"
    assert vehicle_add(client=client_ivan, plate="А123ВС77") == car
    assert Vehicle.objects.count() == 1


def test_vehicle_add_refuses_bad_plate_or_nothing_or_someone_elses_vin(client_ivan):
    with pytest.raises(InvalidPlate):
        vehicle_add(client=client_ivan, plate="нет номера")
    with pytest.raises(DomainError):
        vehicle_add(client=client_ivan)
    VehicleFactory(client=ClientFactory(), vin="XTA21099043012345")
    with pytest.raises(DomainError) as info:
        vehicle_add(client=client_ivan, vin="XTA21099043012345")
    assert info.value.code == "vin_taken"
    assert client_ivan.vehicles.count() == 0
