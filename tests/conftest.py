from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from tests.factories import BayFactory, ClientFactory, ServiceFactory, WorkshopFactory


def next_weekday(weekday: int, tz, hour: int = 10, minute: int = 0, weeks: int = 0) -> datetime:
    """The next local ``weekday`` (0 = Monday) at least a day away, at ``hour:minute`` in ``tz``."""
    today = timezone.now().astimezone(tz).date() + timedelta(days=1)
    day = today + timedelta(days=(weekday - today.weekday()) % 7 + 7 * weeks)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)


@pytest.fixture
def workshop(db):
    return WorkshopFactory(name="СТО Центр", slug="center")


@pytest.fixture
def lift(workshop):
    return BayFactory(workshop=workshop, name="Подъёмник 1")


@pytest.fixture
def oil_change(workshop):
    return ServiceFactory(name="Замена масла", duration_minutes=60, workshops=[workshop])


@pytest.fixture
def client_ivan(db):
    return ClientFactory(name="Иван Петров", phone="+79121234567")


@pytest.fixture
def botapi(settings):
    """A local Bot API server; the bot and senders reach it through ``TELEGRAM_API_URL``."""
    from tests.botapi import BotApiServer

    with BotApiServer() as server:
        settings.TELEGRAM_BOT_TOKEN = server.token
        settings.TELEGRAM_API_URL = server.base_url
        yield server
