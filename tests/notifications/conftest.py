"""Fixtures for the notification tests: a branch with managers' chat and e-mail, a client in
Telegram, a local SMTP server, and (for delivery tests) a real Celery worker process."""

import email
import email.policy
import socket
import zoneinfo
from dataclasses import dataclass, field

import pytest
from aiosmtpd.controller import Controller

from bookings.models import BookingChannel
from bookings.notifications import ratelimit
from bookings.services import booking_create
from tests.conftest import next_weekday
from tests.factories import VehicleFactory

MSK = zoneinfo.ZoneInfo("Europe/Moscow")
MANAGERS_CHAT = 880001
CLIENT_TG = 5550001


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(autouse=True)
def quiet_bot(settings):
    """Every test starts with Telegram's limits untouched (the limiter lives in Redis), and
    leaves no retry it queued for rows that its rolled-back transaction removed."""
    from config.celery import app as celery_app

    ratelimit.reset()
    yield
    ratelimit.reset()
    celery_app.control.purge()


@pytest.fixture
def branch(workshop):
    workshop.address = "ул. Ленина, 5"
    workshop.phone = "+7 (343) 200-00-00"
    workshop.manager_telegram_chat_id = MANAGERS_CHAT
    workshop.manager_emails = "olga@sto.test, desk@sto.test"
    workshop.save()
    return workshop


@pytest.fixture
def tg_client(client_ivan):
    client_ivan.telegram_user_id = CLIENT_TG
    client_ivan.save()
    return client_ivan


@pytest.fixture
def booking(branch, lift, oil_change, tg_client):
    car = VehicleFactory(client=tg_client, make="Kia", model="Rio", plate="А123ВС77")
    return booking_create(
        workshop=branch, service=oil_change, client=tg_client, vehicle=car, starts_at=next_weekday(2, MSK, 10),
        channel=BookingChannel.TELEGRAM, comment="Стучит подвеска",
    )


@dataclass
class SmtpSink:
    """What the local SMTP server received; ``refuse`` makes it answer 550 to these recipients."""

    host: str = "127.0.0.1"
    port: int = 0
    messages: list = field(default_factory=list)
    refuse: set = field(default_factory=set)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 (aiosmtpd API)
        if address in self.refuse:
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted"


@pytest.fixture
def smtp(settings):
    """A real SMTP server (aiosmtpd) on a free local port; Django sends to it over SMTP."""
    sink = SmtpSink(port=free_port())
    controller = Controller(sink, hostname=sink.host, port=sink.port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = sink.host, sink.port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    yield sink
    controller.stop()


def database_url_for_subprocess() -> str:
    """The URL of the database this test uses (the ``test_`` one), for a worker process to share."""
    from django.db import connection

    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@dataclass
class Delivery:
    worker: object
    redis: object
    botapi: object
    smtp: SmtpSink
    env: dict
    tmp_path: object

    def new_worker(self):
        from tests.notifications.processes import CeleryWorker

        self.worker = CeleryWorker(self.env, self.tmp_path / "worker.log").start()
        return self.worker


@pytest.fixture
def delivery(transactional_db, botapi, smtp, settings, tmp_path):
    """A real Celery worker process on a private Redis, sharing this test's database.

    The test process publishes to the same Redis, so ``booking_create`` → on_commit →
    worker → local Bot API server / SMTP server is the production path end to end.
    """
    import os

    from config.celery import app as celery_app
    from tests.notifications.processes import CeleryWorker, RedisServer

    server = RedisServer(free_port(), tmp_path).start()
    old_broker = celery_app.conf.broker_url
    celery_app.conf.broker_url = server.url
    celery_app._after_fork()  # drop pooled connections to the old broker, as Celery does after a fork
    settings.NOTIFY_CLAIM_TIMEOUT_SECONDS = 3
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.test_settings",
        "DATABASE_URL": database_url_for_subprocess(),
        "REDIS_URL": server.url,
        "TELEGRAM_BOT_TOKEN": botapi.token,
        "TELEGRAM_API_URL": botapi.base_url,
        "EMAIL_URL": f"smtp://{smtp.host}:{smtp.port}",
        "NOTIFY_CLAIM_TIMEOUT_SECONDS": "3",
        "LOG_LEVEL": "INFO",
    }
    setup = Delivery(worker=None, redis=server, botapi=botapi, smtp=smtp, env=env, tmp_path=tmp_path)
    try:
        setup.new_worker()
        yield setup
    finally:
        if setup.worker is not None:
            setup.worker.stop()
        server.stop()
        celery_app.conf.broker_url = old_broker
        celery_app._after_fork()
