"""``manage.py report``: bad arguments get a clear Russian error and write no file."""

import io
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command


@pytest.mark.parametrize(("args", "message"), [
    ([], "укажите период: --from и --to"),
    (["--from", "2025-03-01"], "укажите период: --from и --to"),
    (["--from", "2025-03-01", "--to", "2025-04-01", "--format", "pdf"], "--format должен быть xlsx или csv, а не «pdf»"),
    (["--from", "2025-03-01", "--to", "2025-04-01", "--format", "csv"], "укажите файл: -o ФАЙЛ"),
    (["--from", "01.03.2025", "--to", "2025-04-01", "--format", "csv", "-o", "OUT"],
     "--from: «01.03.2025» — не дата в формате ГГГГ-ММ-ДД"),
    (["--from", "2025-04-01", "--to", "2025-03-01", "--format", "csv", "-o", "OUT"],
     "Начало периода должно быть раньше его конца"),
    (["--from", "2020-01-01", "--to", "2025-03-01", "--format", "csv", "-o", "OUT"], "Период длиннее 1098 дней"),
    (["--from", "2025-03-01", "--to", "2025-04-01", "--workshop", "nowhere", "--format", "csv", "-o", "OUT"],
     "филиал с кодом «nowhere» не найден. Есть: center, east"),
    (["--from", "2025-03-01", "--to", "2025-04-01", "--format", "csv", "-o", "no/such/dir/OUT"], "папки «"),
    (["--from", "2025-03-01", "--to", "2025-04-01", "--bogus"], "лишние аргументы: --bogus."),
    (["--from", "2025-03-01", "--to"], "после --to нужно значение."),
])
def test_it_refuses_bad_arguments_in_russian_and_writes_nothing(march_world, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CommandError) as error:
        call_command("report", *args, stdout=io.StringIO())

    assert message in str(error.value)
    assert "Использование: manage.py report" in str(error.value)
    assert list(tmp_path.iterdir()) == []


def test_it_says_where_it_wrote_the_report(march_world, tmp_path):
    out = io.StringIO()
    call_command("report", "--from", "2025-03-01", "--to", "2025-04-01", "--format", "xlsx",
                 "-o", str(tmp_path / "r.xlsx"), stdout=out)

    assert out.getvalue().strip() == f"Отчёт за 01.03.2025 — 31.03.2025 записан в {tmp_path / 'r.xlsx'}."
    assert (tmp_path / "r.xlsx").stat().st_size > 0


def test_from_a_shell_a_bad_argument_is_one_russian_line_not_a_traceback(tmp_path):
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, str(root / "manage.py"), "report", "--bogus"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)

    assert result.returncode == 2
    assert result.stderr.startswith("Ошибка: лишние аргументы: --bogus.\nИспользование: manage.py report")
    assert "Traceback" not in result.stderr and "unrecognized" not in result.stderr
