"""manage.py demo_serve, as `make demo` runs it: SQLite, no Redis, admin on the given port.

Real processes: the command is started as `make demo` starts it and asked over HTTP.
"""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def demo_env(tmp_path_factory) -> dict:
    """The environment `make demo` gives: DEBUG on, a SQLite file, no Redis, no token."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "TELEGRAM_"))}
    env.update(
        DEBUG="1",
        DATABASE_URL=f"sqlite:///{tmp_path_factory.mktemp('demo') / 'db.sqlite3'}",
        REDIS_URL="",
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    return env


def start(env: dict, port: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "demo_serve", f"127.0.0.1:{port}"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def wait_for_login_page(port: int, server: subprocess.Popen) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, "demo_serve exited before serving"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/admin/login/", timeout=2) as response:
                return response.status
        except OSError:
            time.sleep(0.3)
    raise AssertionError("the admin login page never answered")


def stop(server: subprocess.Popen) -> tuple[str, str]:
    server.send_signal(signal.SIGTERM)
    out, err = server.communicate(timeout=30)
    return out, err


def test_serves_admin_without_a_bot_token_and_stops_on_sigterm(demo_env):
    port = free_port()
    server = start(demo_env, port)
    try:
        assert wait_for_login_page(port, server) == 200
    finally:
        out, err = stop(server)
    assert "Бот не запущен: TELEGRAM_BOT_TOKEN не задан." in out
    assert f"Админка: http://127.0.0.1:{port}/admin/" in out
    assert server.returncode == 0
    assert "No hostname was supplied" not in err


def test_a_bot_that_cannot_start_is_reported_and_the_admin_keeps_running(demo_env):
    # Nothing listens on the discard port: the bot's first call to the Bot API fails.
    env = {**demo_env, "TELEGRAM_BOT_TOKEN": "123456:demo-token", "TELEGRAM_API_URL": "http://127.0.0.1:9/bot"}
    port = free_port()
    server = start(env, port)
    try:
        assert wait_for_login_page(port, server) == 200
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and server.poll() is None:
            time.sleep(0.5)
            if _bot_exited(server.pid):
                break
        assert wait_for_login_page(port, server) == 200
    finally:
        out, err = stop(server)
    assert "Запускаю Telegram-бота" in out
    assert "Нет связи с Bot API (http://127.0.0.1:9/bot)" in err
    assert "Telegram-бот остановился (код 1)" in err
    assert "123456:demo-token" not in out + err


def _bot_exited(server_pid: int) -> bool:
    """True once the demo server has no `runbot` child left."""
    children = Path(f"/proc/{server_pid}/task/{server_pid}/children")
    if not children.exists():
        return True
    for pid in children.read_text().split():
        try:
            if b"runbot" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return False
        except FileNotFoundError:
            continue
    return True
