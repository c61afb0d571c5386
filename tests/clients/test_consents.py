"""Withdrawing consent from Telegram: every standing consent of the person, and only theirs; the rows stay."""

from clients.consents import consent_withdraw_telegram
from clients.models import Consent, ConsentPurpose
from tests.factories import ClientFactory

TG = 5001


def consent(**fields):
    defaults = {"purpose": ConsentPurpose.PERSONAL_DATA, "text_version": "1", "text_hash": "0" * 64,
                "text": "Согласие", "channel": "telegram"}
    return Consent.objects.create(**defaults | fields)


def test_it_withdraws_the_accounts_and_the_linked_clients_consents_and_unlinks_the_account(db):
    client = ClientFactory(telegram_user_id=TG, telegram_username="petr")
    from_bot = consent(telegram_user_id=TG)
    given_at_the_desk = consent(client=client, channel="paper")
    marketing = consent(client=client, telegram_user_id=TG, purpose=ConsentPurpose.MARKETING)
    someone_elses = consent(client=ClientFactory(telegram_user_id=TG + 1), telegram_user_id=TG + 1)

    assert consent_withdraw_telegram(telegram_user_id=TG) == 3

    for mine in (from_bot, given_at_the_desk, marketing):
        mine.refresh_from_db()
        assert mine.withdrawn_at is not None and mine.text == "Согласие"
    someone_elses.refresh_from_db()
    assert someone_elses.withdrawn_at is None
    client.refresh_from_db()
    assert (client.telegram_user_id, client.telegram_username) == (None, "")


def test_a_second_withdrawal_keeps_the_first_date(db):
    first = consent(telegram_user_id=TG)
    consent_withdraw_telegram(telegram_user_id=TG)
    first.refresh_from_db()
    withdrawn_at = first.withdrawn_at

    assert consent_withdraw_telegram(telegram_user_id=TG) == 0
    first.refresh_from_db()
    assert first.withdrawn_at == withdrawn_at
