"""Webhook mode: PTB's own server on a free local port, the secret header, repeated updates; and `runbot`."""

import hmac
import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.db import connection

from botapp import webhook
from botapp.models import BotSession
from botapp.webhook import ConstantTimeSecret, webhook_options
from tests.botrunner import clear_bot_cache

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "s3cr3t-Token_1"
USER = 5001


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_update(update_id: int, user_id: int = USER) -> dict:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id, "date": int(time.time()), "text": "/start",
            "chat": {"id": user_id, "type": "private", "first_name": "Тест"},
            "from": {"id": user_id, "is_bot": False, "first_name": "Тест"},
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }


@pytest.fixture
def hook(bot, settings, shop):
    """The bot serving its webhook on a free local port; yields the URL Telegram would POST to."""
    port = free_port()
    settings.TELEGRAM_WEBHOOK_URL = f"http://127.0.0.1:{port}/telegram/hook"
    settings.TELEGRAM_WEBHOOK_SECRET = SECRET
    bot.serve_webhook(**webhook_options(listen="127.0.0.1", port=port))
    return settings.TELEGRAM_WEBHOOK_URL


def post(url: str, update: dict, secret: str | None = SECRET) -> httpx.Response:
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    return httpx.post(url, json=update, headers=headers, timeout=5)


def test_it_registers_the_webhook_with_its_secret(bot, hook):
    [call] = bot.server.calls("setWebhook")
    assert call.params["url"] == hook and call.params["secret_token"] == SECRET


def test_an_update_with_the_right_secret_is_answered(bot, hook):
    assert post(hook, start_update(1)).status_code == 200
    bot.server.wait_for(lambda: len(bot.server.sent_to(USER)) >= 2)
    assert bot.last_text(USER).startswith("СОГЛАСИЕ НА ОБРАБОТКУ")


@pytest.mark.parametrize("secret", ["wrong", "", None, SECRET + "x", SECRET[:-1]])
def test_a_wrong_or_missing_secret_gets_403_and_nothing_is_processed(bot, hook, secret):
    assert post(hook, start_update(1), secret=secret).status_code == 403
    time.sleep(0.3)
    assert bot.server.calls("sendMessage") == [] and not BotSession.objects.exists()


def test_a_repeated_update_is_handled_once(bot, hook):
    assert post(hook, start_update(7)).status_code == 200
    assert post(hook, start_update(7)).status_code == 200
    bot.server.wait_for(lambda: len(bot.server.sent_to(USER)) >= 2)
    time.sleep(0.3)
    assert len(bot.server.calls("sendMessage")) == 2, "greeting and consent, once"


def test_the_secret_is_compared_in_constant_time(bot, hook, monkeypatch):
    compared, original = [], hmac.compare_digest

    def spy(a, b):
        compared.append((a, b))
        return original(a, b)

    monkeypatch.setattr(webhook.hmac, "compare_digest", spy)
    assert post(hook, start_update(1), secret="guess").status_code == 403
    assert compared == [(SECRET.encode(), b"guess")]


def test_constant_time_secret_compares_like_a_string():
    secret = ConstantTimeSecret("abc")
    assert secret == "abc" and "abc" == secret and not ("abc" != secret)
    assert "abd" != secret and secret != "ab" and secret != 42
    assert isinstance(secret, str) and hash(secret) == hash("abc")


def test_webhook_mode_refuses_to_start_without_a_usable_secret(settings, botapi):
    settings.TELEGRAM_WEBHOOK_URL = "https://bot.example.ru/telegram/hook"
    for bad in ("", "has space", "x" * 257, "кириллица"):
        settings.TELEGRAM_WEBHOOK_SECRET = bad
        with pytest.raises(CommandError, match="TELEGRAM_WEBHOOK_SECRET"):
            call_command("runbot", "--webhook")
    settings.TELEGRAM_WEBHOOK_SECRET = SECRET
    settings.TELEGRAM_WEBHOOK_URL = ""
    with pytest.raises(CommandError, match="TELEGRAM_WEBHOOK_URL"):
        call_command("runbot", "--webhook")


def test_runbot_refuses_to_start_without_a_token(settings):
    settings.TELEGRAM_BOT_TOKEN = ""
    with pytest.raises(CommandError, match="TELEGRAM_BOT_TOKEN"):
        call_command("runbot")


# --- the command as a real process ------------------------------------------------------------
def runbot(botapi, *args: str, **env: str) -> subprocess.Popen:
    db = connection.settings_dict
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.test_settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "TELEGRAM_BOT_TOKEN": botapi.token, "TELEGRAM_API_URL": botapi.base_url, "LOG_LEVEL": "INFO", **env,
    }
    return subprocess.Popen(
        [sys.executable, "manage.py", "runbot", *args], cwd=django_settings.BASE_DIR, env=environment,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def port_accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


def stop(process: subprocess.Popen) -> str:
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=20)
    return output


@pytest.mark.slow
def test_runbot_polls_and_answers(botapi, shop):
    clear_bot_cache()
    process = runbot(botapi)
    try:
        botapi.user_sends_text(USER, "/start")
        botapi.wait_for(lambda: len(botapi.sent_to(USER)) >= 2, timeout=30)
    finally:
        output = stop(process)
    assert botapi.sent_to(USER)[-1]["text"].startswith("СОГЛАСИЕ НА ОБРАБОТКУ")
    assert process.returncode == 0, output
    assert botapi.token not in output
    if hasattr(os, "sched_setaffinity"):
        assert "Bot: polling, threads on CPU " in output


@pytest.mark.slow
def test_runbot_serves_the_webhook(botapi, shop):
    clear_bot_cache()
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram/hook"
    process = runbot(botapi, "--webhook", "--listen", "127.0.0.1", "--port", str(port),
                     TELEGRAM_WEBHOOK_URL=url, TELEGRAM_WEBHOOK_SECRET=SECRET)
    try:
        botapi.wait_for(lambda: botapi.calls("setWebhook"), timeout=30)
        # setWebhook can reach Telegram a moment before the listener accepts connections.
        botapi.wait_for(lambda: port_accepts(port), timeout=30)
        assert post(url, start_update(11), secret="nope").status_code == 403
        assert post(url, start_update(12)).status_code == 200
        botapi.wait_for(lambda: len(botapi.sent_to(USER)) >= 2, timeout=30)
    finally:
        output = stop(process)
    assert len(botapi.calls("sendMessage")) == 2
    assert botapi.token not in output and SECRET not in output
