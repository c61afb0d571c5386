"""A manager of one branch sees nothing of another, on the dashboard or in any file it exports."""

import io

import pytest
from django.core.management import call_command

from reports.selectors import report_workshops_for_user
from tests.factories import MembershipFactory, UserFactory
from tests.reports.files import csv_sections, page_figures
from tests.reports.world import EXPECTED
from workshops.models import StaffRole

MARCH_QUERY = "period=custom&date_from=2025-03-01&date_to=2025-03-31"
CENTER_ONLY = ("Иван Петров", "Пётр Сидоров", "Вера Соколова", "Дина Козлова", "Кира Волкова")
EAST_ONLY = ("Ольга Смирнова", "Анна Кузнецова", "Глеб Лебедев", "Егор Новиков", "Зоя Морозова", "Мила Зайцева",
             "Лев Павлов")


def test_a_manager_sees_only_their_branch_figures(march_world, client):
    client.force_login(march_world.manager_center)
    html = client.get(f"/admin/reports/dashboard/?{MARCH_QUERY}").content.decode()

    expected = EXPECTED["branch"]["СТО Центр"]
    figures = page_figures(html)
    assert {name: figures[name] for name in ("new", "confirmed", "completed", "cancelled", "no_show")} == {
        name: expected[name] for name in ("new", "confirmed", "completed", "cancelled", "no_show")}
    assert "СТО Центр" in html
    assert "СТО Восток" not in html


def test_a_manager_cannot_ask_for_another_branch(march_world, client):
    client.force_login(march_world.manager_center)
    html = client.get(f"/admin/reports/dashboard/?{MARCH_QUERY}&workshop={march_world.east.pk}").content.decode()

    assert "Выберите корректный вариант" in html
    assert "СТО Восток" not in html
    response = client.get(f"/admin/reports/dashboard/export/?{MARCH_QUERY}&workshop={march_world.east.pk}&format=csv")
    assert response.status_code == 302
    assert not response.has_header("Content-Disposition")


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_a_managers_export_holds_nothing_of_another_branch(march_world, client, fmt):
    client.force_login(march_world.manager_center)
    response = client.get(f"/admin/reports/dashboard/export/?{MARCH_QUERY}&format={fmt}")
    content = b"".join(response.streaming_content)

    if fmt == "xlsx":
        from openpyxl import load_workbook

        workbook = load_workbook(io.BytesIO(content))
        text = "\n".join(str(cell) for ws in workbook.worksheets for row in ws.iter_rows(values_only=True)
                         for cell in row)
        bookings = [row[9] for row in workbook["Записи"].iter_rows(min_row=2, values_only=True)]
        assert set(bookings) == set(CENTER_ONLY)
    else:
        text = content.decode("utf-8-sig")
    assert "СТО Центр" in text
    assert "СТО Восток" not in text
    assert not any(name in text for name in EAST_ONLY)


def test_a_managers_csv_totals_are_their_branch(march_world, client, tmp_path):
    client.force_login(march_world.manager_center)
    response = client.get(f"/admin/reports/dashboard/export/?{MARCH_QUERY}&format=csv")
    path = tmp_path / "center.csv"
    path.write_bytes(b"".join(response.streaming_content))

    total = csv_sections(path)[("Итого", "01.03.2025 — 31.03.2025")]
    expected = EXPECTED["branch"]["СТО Центр"]
    assert {name: total[name] for name in expected} == expected


def test_the_command_for_one_branch_gives_that_branch(march_world, tmp_path):
    path = tmp_path / "east.csv"
    call_command("report", "--from", "2025-03-01", "--to", "2025-04-01", "--workshop", "east", "--format", "csv",
                 "-o", str(path), stdout=io.StringIO())

    total = csv_sections(path)[("Итого", "01.03.2025 — 31.03.2025")]
    expected = EXPECTED["branch"]["СТО Восток"]
    assert {name: total[name] for name in expected} == expected
    assert "СТО Центр" not in path.read_text(encoding="utf-8-sig")


def test_staff_without_the_manager_role_and_strangers_get_no_reports(march_world, client):
    staff = MembershipFactory(workshop=march_world.center, role=StaffRole.STAFF).user
    stranger = UserFactory()
    for user in (staff, stranger):
        client.force_login(user)
        assert client.get("/admin/reports/dashboard/").status_code == 403
        assert client.get("/admin/reports/dashboard/export/?format=csv").status_code == 403
        assert "/admin/reports/dashboard/" not in client.get("/admin/").content.decode()
    assert list(report_workshops_for_user(staff)) == []


def test_the_menu_offers_the_dashboard_to_managers_and_subscriptions_to_owners_only(march_world, client):
    client.force_login(march_world.manager_center)
    menu = client.get("/admin/").content.decode()
    assert "/admin/reports/dashboard/" in menu
    assert "/admin/reports/reportsubscription/" not in menu
    assert client.get("/admin/reports/reportsubscription/").status_code == 403

    client.force_login(march_world.owner)
    assert "/admin/reports/reportsubscription/" in client.get("/admin/").content.decode()
    assert client.get("/admin/reports/reportsubscription/").status_code == 200


def test_anonymous_visitors_are_sent_to_the_login_page(client):
    response = client.get("/admin/reports/dashboard/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
