"""The bot's and beat's container healthchecks: the process touches a heartbeat file while it does its
work, and deploy/healthcheck.py (run by Docker, as a separate process) judges it by its age.

The bot touches it after each getUpdates the Bot API answered; beat on each tick of its loop.
"""

import os
import subprocess
import sys
import time

import pytest
from telegram.error import TelegramError

from config.beat import HeartbeatScheduler
from config.celery import app as celery_app
from tests.botrunner import BotRunner, clear_bot_cache
from tests.ops.conftest import ROOT


def healthcheck(service: str, **env: str) -> subprocess.CompletedProcess:
    """Run deploy/healthcheck.py as Docker would, with only the given container environment."""
    return subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "healthcheck.py"), service],
        env={"PATH": os.environ["PATH"], **env}, capture_output=True, text=True, timeout=30,
    )


def make_old(path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


@pytest.fixture
def heartbeat_file(settings, tmp_path):
    settings.HEARTBEAT_FILE = str(tmp_path / "heartbeat")
    return tmp_path / "heartbeat"


@pytest.fixture
def bot(botapi, heartbeat_file, transactional_db):
    clear_bot_cache()
    runner = BotRunner(botapi)
    yield runner
    runner.stop()
    clear_bot_cache()


def test_the_bot_is_healthy_once_the_bot_api_answered_its_poll(bot, botapi, heartbeat_file):
    env = {"TELEGRAM_BOT_TOKEN": botapi.token, "HEARTBEAT_FILE": str(heartbeat_file)}
    before = healthcheck("bot", **env)
    assert before.returncode == 1
    assert "no heartbeat yet" in before.stderr

    bot.deliver()  # one getUpdates, answered

    assert healthcheck("bot", **env).returncode == 0


def test_the_bot_turns_unhealthy_when_the_bot_api_stops_answering(bot, botapi, heartbeat_file):
    env = {"TELEGRAM_BOT_TOKEN": botapi.token, "HEARTBEAT_FILE": str(heartbeat_file)}
    bot.deliver()
    make_old(heartbeat_file, 90)
    botapi.fail_next("getUpdates", error_code=502, description="Bad Gateway", retry_after=None)

    with pytest.raises(TelegramError):
        bot.deliver()

    result = healthcheck("bot", **env)
    assert result.returncode == 1
    assert "last heartbeat 90 s ago" in result.stderr
    bot.deliver()  # the Bot API is back
    assert healthcheck("bot", **env).returncode == 0


def test_a_bot_without_a_token_is_off_by_choice_and_healthy(tmp_path):
    assert healthcheck("bot", HEARTBEAT_FILE=str(tmp_path / "never-written")).returncode == 0


def test_beat_is_healthy_while_its_loop_ticks(heartbeat_file, transactional_db):
    # transactional: the scheduler closes and reopens its database connection, as in production
    env = {"HEARTBEAT_FILE": str(heartbeat_file)}
    assert healthcheck("beat", **env).returncode == 1

    HeartbeatScheduler(app=celery_app).tick()

    assert healthcheck("beat", **env).returncode == 0
    make_old(heartbeat_file, 61)
    result = healthcheck("beat", **env)
    assert result.returncode == 1
    assert "last heartbeat 61 s ago (more than 60)" in result.stderr


def test_the_age_limit_can_be_set(heartbeat_file):
    heartbeat_file.touch()
    make_old(heartbeat_file, 20)
    env = {"HEARTBEAT_FILE": str(heartbeat_file)}
    assert healthcheck("beat", **env).returncode == 0
    assert healthcheck("beat", HEARTBEAT_MAX_AGE="15", **env).returncode == 1

