"""Merging with what staff already entered: fill only empty fields, link the branch, report conflicts,
never touch another branch's bookings."""

import json
from datetime import date, datetime, time

import pytest

from bookings.models import Booking, BookingChannel, BookingStatus
from clients.models import Client, Vehicle
from imports.engine import run_import
from imports.safe_export import neutralise
from tests.factories import BayFactory, BookingFactory, ClientFactory, VehicleFactory, WorkshopFactory


def csv(text: str) -> bytes:
    return text.encode("utf-8")


def test_a_row_with_a_known_phone_fills_only_empty_fields_and_reports_the_rest(branch):
    staff_entered = ClientFactory(name="Иван Петров", email="ivan@staff.ru", comment="", phone="+79121234567")
    result = run_import(data=csv("ФИО;Телефон;E-mail;Комментарий;ИНН\n"
                                 "Петров Иван Сергеевич;8 912 123-45-67, 8 922 000-11-22;other@mail.ru;VIP;500100732259\n"),
                        filename="c.csv", workshop=branch)
    staff_entered.refresh_from_db()
    assert staff_entered.name == "Иван Петров" and staff_entered.email == "ivan@staff.ru", "never overwritten"
    assert staff_entered.comment == "VIP" and staff_entered.inn == "500100732259", "empty fields filled"
    assert set(staff_entered.phones.values_list("number", flat=True)) == {"+79121234567", "+79220001122"}
    assert result.outcomes[1].status == "updated"
    assert {(c["field"], c["kept"], c["offered"]) for c in result.summary["conflicts"]} == {
        ("имя", "Иван Петров", "Петров Иван Сергеевич"), ("e-mail", "ivan@staff.ru", "other@mail.ru")}
    assert Client.objects.count() == 1


def test_a_client_of_another_branch_is_linked_to_this_one_and_their_bookings_are_left_alone(branch):
    north = WorkshopFactory(name="СТО Север", slug="north")
    theirs = ClientFactory(name="Анна Смирнова", phone="+79220001122")
    theirs.workshops.add(north)
    booking = BookingFactory(workshop=north, bay=BayFactory(workshop=north), client=theirs,
                             status=BookingStatus.CONFIRMED, channel=BookingChannel.PHONE)
    before = list(Booking.objects.filter(workshop=north).values())
    run_import(data=csv("ФИО;Телефон;Дата последнего визита\nСмирнова Анна;89220001122;10.01.2024\n"),
               filename="c.csv", workshop=branch)
    assert set(theirs.workshops.values_list("slug", flat=True)) == {"north", "shevchenko"}
    assert list(Booking.objects.filter(workshop=north).values()) == before
    imported = Booking.objects.get(workshop=branch)
    assert (imported.client, imported.channel, imported.status) == (theirs, BookingChannel.IMPORT, BookingStatus.COMPLETED)
    assert booking.pk != imported.pk


def test_a_known_inn_merges_a_company_whatever_its_name(branch):
    company = ClientFactory(name="ООО Ромашка", kind="company", inn="7707083893")
    result = run_import(data=csv("Наименование;ИНН;Телефон\nРомашка (бух.);7707083893;8 (3532) 54-19-89\n"),
                        filename="c.csv", workshop=branch)
    assert result.summary["clients_created"] == 0 and Client.objects.count() == 1
    assert company.phones.get().number == "+73532541989"


def test_namesakes_with_different_phones_stay_different_clients(branch):
    run_import(data=csv("ФИО;Телефон\nПетров Иван;89121234567\nПетров Иван;89221234567\n"), filename="c.csv",
               workshop=branch)
    assert Client.objects.filter(name="Петров Иван").count() == 2


def test_a_car_known_by_vin_gets_its_plate_filled_not_a_second_car(branch):
    owner = ClientFactory(name="Иван Петров", phone="+79121234567")
    VehicleFactory(client=owner, plate="", vin="XTA21099043012345", make="Lada", model="")
    run_import(data=csv("ФИО;Телефон;Автомобиль;Госномер;VIN\nИван Петров;89121234567;Lada 2109;А123ВС77;XTA21099043012345\n"),
               filename="c.csv", workshop=branch)
    car = Vehicle.objects.get()
    assert (car.plate, car.make, car.model) == ("А123ВС77", "Lada", "2109")


def test_a_phone_and_an_inn_of_two_different_clients_do_not_merge_them(branch):
    a = ClientFactory(name="Иван", phone="+79121234567")
    b = ClientFactory(name="ООО Ромашка", kind="company", inn="7707083893")
    result = run_import(data=csv("ФИО;Телефон;ИНН\nИван;89121234567;7707083893\n"), filename="c.csv", workshop=branch)
    assert Client.objects.count() == 2
    assert "identity_conflict" in {code for code, _ in result.outcomes[1].warnings}
    a.refresh_from_db(), b.refresh_from_db()
    assert a.inn == "" and b.phones.count() == 0


def test_rejected_rows_carry_line_column_and_value(branch):
    result = run_import(data=csv("ФИО;Телефон\nИван;123-45-67\n=cmd|' /C calc'!A0;89121234567\n"), filename="c.csv",
                        workshop=branch)
    first, second = result.outcomes[1:]
    assert (first.status, first.reason_code, first.line, first.column, first.value) == (
        "rejected", "no_valid_phone", 2, "Телефон", "123-45-67")
    assert (second.status, second.reason_code, second.line, second.column) == ("rejected", "formula_injection", 3, "ФИО")
    assert Client.objects.count() == 0


def test_visits_in_the_future_are_dropped_with_a_warning(branch):
    result = run_import(data=csv("ФИО;Телефон;Дата последнего визита\nИван;89121234567;01.01.2999\n"), filename="c.csv",
                        workshop=branch)
    assert "date_in_future" in {code for code, _ in result.outcomes[1].warnings}
    assert not Booking.objects.exists() and Client.objects.count() == 1


def test_exports_neutralise_formula_cells_but_keep_e164_phones():
    assert neutralise("=HYPERLINK(\"x\")") == "'=HYPERLINK(\"x\")"
    for dangerous in ("+1+cmd", "-2+3", "@SUM(A1)", "\tx", "\rx"):
        assert neutralise(dangerous).startswith("'")
    assert neutralise("+79121234567") == "+79121234567"
    assert neutralise("Иван") == "Иван" and neutralise(5) == 5 and neutralise(date(2024, 1, 1)) == date(2024, 1, 1)


def test_admin_export_formats_neutralise_every_cell():
    import tablib

    from imports.formats import SafeCSV

    dataset = tablib.Dataset(headers=["name", "phone"])
    dataset.append(["=1+1", "+79121234567"])
    assert SafeCSV().export_data(dataset).splitlines()[1] == "'=1+1,+79121234567"


@pytest.mark.parametrize("writer", ["copy", "orm"])
def test_first_visits_are_the_earliest_imported_one_and_a_known_earlier_one_stays(branch, writer):
    def noon(day: date) -> datetime:
        return datetime.combine(day, time(12), tzinfo=branch.tz)

    since_2019 = ClientFactory(name="Иван Петров", phone="+79121234567")
    since_2019.first_visit_at = noon(date(2019, 5, 6))
    since_2019.save(update_fields=["first_visit_at"])
    never_came = ClientFactory(name="Анна Смирнова", phone="+79220001122")
    run_import(data=csv("ФИО;Телефон;Госномер;Дата последнего визита\n"
                        "Олег Волков;89031112233;А123ВС77;10.01.2024\n"
                        "Олег Волков;+7 903 111-22-33;В456ОР77;15.03.2022\n"  # earlier, further down
                        "Иван Петров;89121234567;;01.02.2024\n"
                        "Анна Смирнова;89220001122;;01.02.2024\n"
                        "Пётр Лебедев;89035556677;;\n"),
               filename="c.csv", workshop=branch, writer=writer)
    since_2019.refresh_from_db(), never_came.refresh_from_db()
    assert Client.objects.get(name="Олег Волков").first_visit_at == noon(date(2022, 3, 15))
    assert since_2019.first_visit_at == noon(date(2019, 5, 6)), "only ever moves earlier"
    assert never_came.first_visit_at == noon(date(2024, 2, 1))
    assert Client.objects.get(name="Пётр Лебедев").first_visit_at is None


def test_a_vin_given_to_two_new_clients_stays_with_the_first_and_the_summary_can_be_stored(branch):
    result = run_import(data=csv("ФИО;Телефон;Госномер;VIN\n"
                                 "Иван Петров;89121234567;А123ВС77;XTA21099043012345\n"
                                 "Олег Волков;89031112233;В456ОР77;XTA21099043012345\n"),
                        filename="c.csv", workshop=branch)
    json.dumps(result.summary)  # what the job keeps in its JSON field
    assert [(c["field"], c["client_id"], c["offered"]) for c in result.summary["conflicts"]] == [
        ("VIN", None, "XTA21099043012345")]
    assert list(Vehicle.objects.order_by("id").values_list("client__name", "vin", "plate")) == [
        ("Иван Петров", "XTA21099043012345", "А123ВС77"), ("Олег Волков", "", "В456ОР77")]
