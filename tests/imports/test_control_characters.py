"""Control characters in a file (a bell, an escape, a vertical tab from an old program) never reach the base."""

from clients.models import Client, Vehicle
from imports.engine import run_import


def test_names_comments_and_cars_are_stored_without_control_characters(branch):
    data = (
        "ФИО;Телефон;Комментарий;Марка;Модель;Госномер\n"
        "Иван\x07ов Иван;89121234567;\"звонить\x1b после 18\nворота 2\";Lada\x07;Ves\x0bta;А123ВС77\n"
    ).encode()

    run_import(data=data, filename="a.csv", workshop=branch)

    client = Client.objects.get()
    assert client.name == "Иванов Иван"
    assert client.comment == "звонить после 18\nворота 2"
    assert list(Vehicle.objects.values_list("make", "model")) == [("Lada", "Ves ta")]
