import pytest

from tests.botrunner import BotRunner, clear_bot_cache
from tests.factories import BayFactory, ServiceFactory, WorkshopFactory
from workshops.models import Company


@pytest.fixture
def company(transactional_db):
    return Company.objects.create(
        name="ООО «Автосервис Плюс»", legal_address="г. Москва, ул. Ленина, д. 1", inn="7707083893",
        email="privacy@example.ru",
    )


@pytest.fixture
def branch(transactional_db):
    return WorkshopFactory(name="СТО Центр", slug="center", address="ул. Мира, 5", phone="+7 495 123-45-67")


@pytest.fixture
def lift(branch):
    return BayFactory(workshop=branch, name="Подъёмник 1")


@pytest.fixture
def oil_change(branch):
    return ServiceFactory(name="Замена масла", duration_minutes=60, price_from=1500, workshops=[branch])


@pytest.fixture
def shop(company, branch, lift, oil_change):
    """A company with one branch, one lift and one service: enough to book through the bot."""
    return branch


@pytest.fixture
def bot(botapi, transactional_db):
    """The real bot application talking HTTP to the local Bot API server."""
    clear_bot_cache()
    runner = BotRunner(botapi)
    yield runner
    runner.stop()
    clear_bot_cache()
