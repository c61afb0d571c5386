"""The dashboard page, the command's CSV and the XLSX give the hand-worked figures of March, and the same ones."""

from datetime import date

import pytest
from django.core.management import call_command

from tests.reports.files import csv_sections, day_key, page_figures, xlsx_sheets, xlsx_summary, xlsx_table
from tests.reports.world import EXPECTED, expected_day

CARD_FIGURES = ("new", "confirmed", "completed", "cancelled", "no_show", "returning_clients")
SHARES = {"returning_share": 3 / 5, "telegram_share": 2 / 8, "telegram_client_share": 4 / 12}
MARCH_QUERY = "period=custom&date_from=2025-03-01&date_to=2025-03-31"
COUNTS = ("new", "confirmed", "completed", "cancelled", "no_show")
CHANNEL_LABELS = {"telegram": "Telegram", "web": "сайт", "phone": "телефон (администратор)", "api": "API",
                  "import": "импорт истории"}


@pytest.fixture
def march_files(march_world, tmp_path):
    """The command's CSV and XLSX of March, all branches."""
    paths = {}
    for fmt in ("csv", "xlsx"):
        paths[fmt] = tmp_path / f"march.{fmt}"
        call_command("report", "--from", "2025-03-01", "--to", "2025-04-01", "--format", fmt, "-o", str(paths[fmt]))
    return paths


def only(figures: dict, names) -> dict:
    return {name: figures[name] for name in names}


def test_the_page_the_csv_and_the_xlsx_show_the_hand_worked_totals(march_world, march_files, client):
    client.force_login(march_world.owner)
    page = page_figures(client.get(f"/admin/reports/dashboard/?{MARCH_QUERY}").content.decode())
    csv_total = csv_sections(march_files["csv"])[("Итого", "01.03.2025 — 31.03.2025")]
    xlsx_total = xlsx_summary(march_files["xlsx"])

    expected = only(EXPECTED["total"], CARD_FIGURES)
    assert only(page, CARD_FIGURES) == expected
    assert only(csv_total, CARD_FIGURES) == expected
    assert only(xlsx_total, CARD_FIGURES) == expected
    assert only(xlsx_total, EXPECTED["total"]) == only(csv_total, EXPECTED["total"]) == EXPECTED["total"]
    for name, value in SHARES.items():
        assert page[name] == pytest.approx(value, abs=1e-4)
        assert csv_total[name] == pytest.approx(value, abs=1e-4)
        assert xlsx_total[name] == pytest.approx(value)


def test_the_csv_and_the_xlsx_break_the_figures_down_alike(march_files):
    sections = csv_sections(march_files["csv"])
    by_day = xlsx_table(march_files["xlsx"], "По дням")
    by_branch = xlsx_table(march_files["xlsx"], "По филиалам")
    by_service = xlsx_table(march_files["xlsx"], "По услугам")
    by_channel = xlsx_table(march_files["xlsx"], "По каналам")

    assert list(by_day) == [date(2025, 3, d) for d in range(1, 32)]
    for day, figures in by_day.items():
        assert only(figures, expected_day(day)) == expected_day(day), day
        assert only(sections[("День", day_key(day))], expected_day(day)) == expected_day(day), day
    for name, expected in EXPECTED["branch"].items():
        assert only(by_branch[name], expected) == expected
        assert only(sections[("Филиал", name)], expected) == expected
    for name, expected in EXPECTED["service"].items():
        assert only(by_service[name], COUNTS) == expected
        assert only(sections[("Услуга", name)], COUNTS) == expected
    for channel, expected in EXPECTED["channel"].items():
        assert only(by_channel[CHANNEL_LABELS[channel]], COUNTS) == expected
        assert only(sections[("Канал", CHANNEL_LABELS[channel])], COUNTS) == expected


def test_the_files_carry_occupancy_and_the_previous_period(march_files):
    by_branch = xlsx_table(march_files["xlsx"], "По филиалам")
    for name, (booked, open_minutes) in EXPECTED["occupancy"].items():
        assert (by_branch[name]["Занято постов, мин"], by_branch[name]["Открыто постов, мин"]) == (booked, open_minutes)
        assert by_branch[name]["Загрузка постов"] == pytest.approx(booked / open_minutes)
    previous = csv_sections(march_files["csv"])[("Предыдущий период", "29.01.2025 — 28.02.2025")]
    assert only(previous, EXPECTED["previous"]) == EXPECTED["previous"]
    summary = xlsx_sheets(march_files["xlsx"])["Сводка"]
    assert only({row[0]: row[2] for row in summary if row and len(row) > 2}, ["Новые записи"]) == {"Новые записи": 5}


def test_the_dashboard_exports_the_same_file_as_the_command_in_one_click(march_world, march_files, client, tmp_path):
    client.force_login(march_world.owner)
    page = client.get(f"/admin/reports/dashboard/?{MARCH_QUERY}").content.decode()
    assert f"/admin/reports/dashboard/export/?{MARCH_QUERY.replace('&', '&amp;')}&amp;format=xlsx" in page

    for fmt in ("xlsx", "csv"):
        response = client.get(f"/admin/reports/dashboard/export/?{MARCH_QUERY}&format={fmt}")
        assert response.status_code == 200
        assert response["Content-Disposition"] == f'attachment; filename="report-2025-03-01-2025-03-31.{fmt}"'
        path = tmp_path / f"click.{fmt}"
        path.write_bytes(b"".join(response.streaming_content))
        if fmt == "csv":
            assert path.read_bytes() == march_files["csv"].read_bytes()
        else:
            clicked, command = xlsx_sheets(path), xlsx_sheets(march_files["xlsx"])
            stamp = [i for i, row in enumerate(command["Сводка"]) if row and row[0] == "Сформирован"]
            for rows in (clicked["Сводка"], command["Сводка"]):
                del rows[stamp[0]]
            assert clicked == command


def test_the_bookings_sheet_lists_the_bookings_of_the_period_with_local_times(march_files):
    rows = xlsx_sheets(march_files["xlsx"])["Записи"]
    header, bookings = rows[0], rows[1:]
    assert header[:4] == ("№ записи", "Филиал", "Создана", "Начало визита")
    clients = sorted(row[9] for row in bookings)
    # Created in March (not imported), visiting in March, or cancelled / no-show in March.
    assert clients == sorted([
        "Иван Петров", "Пётр Сидоров", "Пётр Сидоров", "Пётр Сидоров", "Ольга Смирнова", "Анна Кузнецова",
        "Вера Соколова", "Глеб Лебедев", "Дина Козлова", "Егор Новиков", "Зоя Морозова", "Кира Волкова",
        "Мила Зайцева", "Лев Павлов",
    ])
    olga = next(row for row in bookings if row[9] == "Ольга Смирнова")
    assert olga[1] == "СТО Восток"
    assert olga[2].strftime("%d.%m.%Y %H:%M") == "01.03.2025 03:30"  # created 28 Feb 20:30 UTC, Novosibirsk time
    assert (olga[5], olga[6]) == ("выполнена", "Telegram")
