"""Consents to personal-data processing (152-FZ): recording evidence and reading it back.

A consent row is evidence of one agreement to one text: its version, a SHA-256 of the
exact text shown, the text itself, when, through which channel and which message. A new
text version makes a new row; old rows are never changed except to mark a withdrawal
or to attach the client once the person is known.
"""

import hashlib

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from clients.models import Client, Consent, ConsentPurpose


def consent_text_hash(text: str) -> str:
    """SHA-256 (hex) of the consent text as shown to the person."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def consent_record(
    *,
    purpose: str,
    text_version: str,
    text: str,
    channel: str,
    telegram_user_id: int | None = None,
    message_id: int | None = None,
    client_id: int | None = None,
) -> Consent:
    """Record that the person agreed to ``text`` (version ``text_version``) for ``purpose``.

    ``client_id`` may be empty when the person is not known yet (the bot asks for consent
    before anything personal); ``consent_attach_client`` fills it in later.
    """
    return Consent.objects.create(
        purpose=purpose, text_version=text_version, text_hash=consent_text_hash(text), text=text,
        channel=channel, telegram_user_id=telegram_user_id, message_id=message_id, client_id=client_id,
    )


def consent_attach_client(*, telegram_user_id: int, client: Client) -> int:
    """Attach the consents a Telegram user gave before sharing a contact to the client they turned out to be."""
    return Consent.objects.filter(telegram_user_id=telegram_user_id, client__isnull=True).update(client=client)


def consent_given(*, telegram_user_id: int, purpose: str, text_version: str) -> bool:
    """Whether this Telegram user has a standing (not withdrawn) consent to this version of the text."""
    return Consent.objects.filter(
        telegram_user_id=telegram_user_id, purpose=purpose, text_version=text_version, withdrawn_at__isnull=True
    ).exists()


@transaction.atomic
def consent_withdraw_telegram(*, telegram_user_id: int) -> int:
    """The person withdrew their consent in Telegram (152-FZ, art. 9 § 2): return how many consents were withdrawn.

    Every standing consent of the person is marked withdrawn — to personal-data processing
    and to marketing messages, which need the data too — whether it was given from this
    Telegram account or is on the client this account is linked to. The rows stay as
    evidence of what was agreed and when. The Telegram account is unlinked from the client,
    and the outbox sends such a client nothing on any channel (``consent_withdrawn``), so
    reminders and messages stop; the bot knows nothing of the person until they agree
    again. Deleting the client's data is the operator's step (within 30 days, as the text says).
    """
    client_ids = list(Client.objects.filter(telegram_user_id=telegram_user_id).values_list("pk", flat=True))
    withdrawn = Consent.objects.filter(
        Q(telegram_user_id=telegram_user_id) | Q(client_id__in=client_ids), withdrawn_at__isnull=True,
    ).update(withdrawn_at=timezone.now())
    Client.objects.filter(pk__in=client_ids).update(
        telegram_user_id=None, telegram_username="", telegram_blocked_at=None, updated_at=timezone.now(),
    )
    return withdrawn


def clients_who_withdrew():
    """Ids of clients who withdrew their consent to personal-data processing and have not given it again.

    A queryset of ``client_id`` values, to use as a subquery. A client with no consent
    rows at all (entered by staff from a phone call) is not among them: they never
    withdrew anything.
    """
    personal_data = Consent.objects.filter(purpose=ConsentPurpose.PERSONAL_DATA, client__isnull=False)
    standing = personal_data.filter(withdrawn_at__isnull=True).values("client_id")
    return personal_data.filter(withdrawn_at__isnull=False).exclude(client_id__in=standing).values("client_id")


def consent_withdrawn(client_id: int | None) -> bool:
    """Whether this client withdrew their personal-data consent (and has not given it again):
    then we send them nothing, on any channel."""
    return client_id is not None and clients_who_withdrew().filter(client_id=client_id).exists()
