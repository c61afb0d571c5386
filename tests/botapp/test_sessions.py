"""Abandoned conversations keep nothing personal for long."""

from datetime import timedelta

import pytest
from django.utils import timezone

from botapp.models import BotSession
from botapp.sessions import sessions_forget_idle
from botapp.tasks import forget_idle_sessions


def test_an_abandoned_conversation_forgets_the_phone_but_keeps_the_client_link(db):
    BotSession.objects.create(telegram_user_id=1, state="name", step=4, data={"phone": "+79161234567"})
    BotSession.objects.create(telegram_user_id=2, state="plate", step=9, data={"client_id": 5, "plate": "А123ВС77"})
    BotSession.objects.create(telegram_user_id=3, state="name", step=2, data={"phone": "+79160000000"})
    BotSession.objects.filter(telegram_user_id__in=[1, 2]).update(updated_at=timezone.now() - timedelta(days=2))

    assert sessions_forget_idle() == 2

    rows = {s.telegram_user_id: (s.state, s.step, s.data) for s in BotSession.objects.all()}
    assert rows[1] == ("", 5, {}) and rows[2] == ("", 10, {"client_id": 5})
    assert rows[3] == ("name", 2, {"phone": "+79160000000"}), "a conversation going on is left alone"


@pytest.mark.django_db
def test_the_hourly_task_runs_the_same_housekeeping():
    BotSession.objects.create(telegram_user_id=1, state="comment", step=4, data={"comment": "стучит"})
    BotSession.objects.update(updated_at=timezone.now() - timedelta(days=3))
    assert forget_idle_sessions() == 1 and BotSession.objects.get().data == {}
