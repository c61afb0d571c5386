"""manage.py import_clients."""

import pytest
from django.core.management import CommandError, call_command

from bookings.models import Booking
from clients.models import Client, Vehicle
from tests.imports.conftest import SAMPLES


def test_the_command_imports_a_file_and_prints_the_summary_in_russian(branch, capsys):
    call_command("import_clients", str(SAMPLES / "02_avtoservis_otchet_klienty_avto.xlsx"), workshop=branch.slug)
    out = capsys.readouterr().out
    assert "Импорт завершён." in out
    assert "Загружено строк: 55" in out and "Отклонено: 1." in out
    assert "строка 46: отклонена" in out
    assert Client.objects.count() == 55 and Vehicle.objects.count() == 68


def test_dry_run_prints_what_would_happen_and_writes_nothing(branch, capsys):
    call_command("import_clients", str(SAMPLES / "04_vygruzka_excel_cp1251_semicolon.csv"), workshop=branch.slug,
                 dry_run=True)
    out = capsys.readouterr().out
    assert "ничего не изменено" in out and "создано: 75" in out
    assert Client.objects.count() == Vehicle.objects.count() == Booking.objects.count() == 0


def test_an_unknown_branch_is_named_in_the_error(branch):
    with pytest.raises(CommandError, match="Филиал «nowhere» не найден. Есть: shevchenko"):
        call_command("import_clients", str(SAMPLES / "05_crm_export_utf8_bom.csv"), workshop="nowhere")
    assert Client.objects.count() == 0


def test_a_refused_file_gives_its_russian_reason(branch, tmp_path):
    bad = tmp_path / "clients.xlsx"
    bad.write_text("ФИО;Телефон\nИван;89121234567\n", encoding="utf-8")
    with pytest.raises(CommandError, match="внутри CSV"):
        call_command("import_clients", str(bad), workshop=branch.slug)
    assert Client.objects.count() == 0


def test_a_missing_branch_is_asked_for_in_russian_naming_the_known_ones(branch, tmp_path):
    with pytest.raises(CommandError) as info:
        call_command("import_clients", str(SAMPLES / "05_crm_export_utf8_bom.csv"))
    assert "укажите филиал: --workshop КОД. Есть: shevchenko" in str(info.value)
    assert "required" not in str(info.value)
    assert Client.objects.count() == 0


def test_unknown_arguments_are_refused_in_russian(branch):
    with pytest.raises(CommandError, match="лишние аргументы: extra.csv"):
        call_command("import_clients", str(SAMPLES / "05_crm_export_utf8_bom.csv"), "extra.csv", workshop=branch.slug)
