"""Helpers for the operations tests: run the project's scripts and commands as separate processes."""

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def database_url(name: str) -> str:
    """A postgres:// URL for database ``name`` on the test server (the test database's host and user)."""
    conf = connection.settings_dict
    credentials = quote(conf["USER"] or "", safe="")
    if conf["PASSWORD"]:
        credentials += ":" + quote(conf["PASSWORD"], safe="")
    return f"postgres://{credentials}@{conf['HOST'] or 'localhost'}:{conf['PORT'] or 5432}/{name}"


def production_env(**overrides: str) -> dict[str, str]:
    """The environment of a production process: config.settings, DEBUG off, nothing from the test run."""
    # A clean slate: the test run's own environment carries test settings (config.test_settings
    # writes several into os.environ) that production would not have.
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR") if key in os.environ}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        SECRET_KEY="ops-test-" + "k" * 50,
        DEBUG="0",
        ALLOWED_HOSTS="sto.example.ru",
        # No Redis: tasks run in-process, so nothing from these processes lands in a shared queue.
        REDIS_URL="",
        LOG_LEVEL="WARNING",
    )
    env.update(overrides)
    return env


def run(args: list[str], env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess:
    """Run ``args`` from the project root; on an unexpected failure, show what the process said."""
    result = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        pytest.fail(f"{' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def manage(*args: str, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess:
    return run([sys.executable, "manage.py", *args], env=env, check=check)
