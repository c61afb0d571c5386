"""Writes about clients: one function per write, used by admin, bot, API and importer."""

import hashlib

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from clients.models import Client, ClientPhone, Consent, ConsentPurpose, Vehicle
from clients.normalize import (
    normalize_phone,
    normalize_plate,
    normalize_vin,
    strip_controls,
)
from clients.selectors import vin_of_another_client
from workshops.errors import DomainError
from workshops.models import Workshop


class InvalidName(DomainError):
    code = "invalid_name"
    default_message = "Укажите имя: хотя бы одну букву, не длиннее 300 символов."


def clean_name(raw: str) -> str:
    """A person's or company's name as typed, on one line: control characters dropped, any run of
    whitespace (tabs, line breaks) one space, trimmed. Refuses empty, letterless and overlong names."""
    name = " ".join(strip_controls(str(raw)).split())
    if not name or not any(ch.isalpha() for ch in name):
        raise InvalidName()
    if len(name) > 300:
        raise InvalidName("Имя слишком длинное: не больше 300 символов.")
    return name


def client_link_workshop(*, client: Client, workshop: Workshop) -> None:
    """Make the client visible to the branch's staff (idempotent)."""
    client.workshops.add(workshop)


@transaction.atomic
def client_get_or_create_by_phone(
    *, phone: str, name: str = "", workshop: Workshop | None = None
) -> tuple[Client, bool]:
    """The client owning ``phone`` (any format), or a new one named ``name``.

    Raises ``InvalidPhone`` for a number that is not one, ``InvalidName`` when a new
    client would have no usable name. An existing client's name is never overwritten.
    """
    number = normalize_phone(phone)
    existing = ClientPhone.objects.select_related("client").filter(number=number).first()
    if existing:
        client, created = existing.client, False
    else:
        clean = clean_name(name)
        try:
            with transaction.atomic():
                client = Client.objects.create(name=clean)
                ClientPhone.objects.create(client=client, number=number)
            created = True
        except IntegrityError:
            # Someone registered the same number a moment ago: use theirs.
            client, created = ClientPhone.objects.get(number=number).client, False
    if workshop is not None:
        client_link_workshop(client=client, workshop=workshop)
    return client, created


@transaction.atomic
def vehicle_add(
    *, client: Client, plate: str = "", vin: str = "", make: str = "", model: str = ""
) -> Vehicle:
    """Add a car to the client, or return theirs with the same plate or VIN.

    Raises ``InvalidPlate`` / ``InvalidVin`` for values that are not one, and a
    ``DomainError`` when neither is given or the VIN belongs to another client's car.
    """
    plate = normalize_plate(plate) if plate.strip() else ""
    vin = normalize_vin(vin) if vin.strip() else ""
    if not plate and not vin:
        raise DomainError("Укажите госномер или VIN автомобиля.", code="vehicle_identity_missing")
    mine = client.vehicles.all()
    existing = (vin and mine.filter(vin=vin).first()) or (plate and mine.filter(plate=plate).first())
    if existing:
        return existing
    if vin and vin_of_another_client(vin, client.pk):
        raise DomainError("Автомобиль с таким VIN уже записан на другого клиента.", code="vin_taken")
    return Vehicle.objects.create(
        client=client, plate=plate, vin=vin, make=" ".join(make.split())[:100], model=" ".join(model.split())[:100]
    )


@transaction.atomic
def client_link_telegram(*, client: Client, telegram_user_id: int, username: str = "") -> Client:
    """Link a Telegram account to ``client`` (the bot verified the shared contact is the sender's own).

    A Telegram account belongs to at most one client: a previous link of the same account
    to another client is removed. Clears «blocked the bot», since the person is writing to it.
    """
    Client.objects.filter(telegram_user_id=telegram_user_id).exclude(pk=client.pk).update(
        telegram_user_id=None, telegram_username=""
    )
    client.telegram_user_id = telegram_user_id
    client.telegram_username = (username or "")[:64]
    client.telegram_blocked_at = None
    client.save(update_fields=["telegram_user_id", "telegram_username", "telegram_blocked_at", "updated_at"])
    return client


def _clients_of(client: Client | None, telegram_user_id: int | None) -> QuerySet[Client]:
    if client is not None:
        return Client.objects.filter(pk=client.pk)
    if telegram_user_id is None:
        raise DomainError("Не указано, какой клиент.", code="client_missing")
    return Client.objects.filter(telegram_user_id=telegram_user_id)


def client_mark_telegram_blocked(*, client: Client | None = None, telegram_user_id: int | None = None) -> int:
    """Telegram said the client blocked the bot (or the chat is gone): stop writing to them.

    By the client, or by the Telegram account (the bot hears «blocked» as a member update).
    Idempotent; keeps the first moment it was noticed; returns how many clients were marked.
    The bot clears the mark when the person writes to it again (``client_mark_telegram_reachable``).
    """
    clients = _clients_of(client, telegram_user_id)
    return clients.filter(telegram_blocked_at__isnull=True).update(telegram_blocked_at=timezone.now())


def client_mark_telegram_reachable(*, client: Client | None = None, telegram_user_id: int | None = None) -> int:
    """The client wrote to the bot again (or unblocked it), so messages reach them; how many were unmarked."""
    clients = _clients_of(client, telegram_user_id)
    return clients.filter(telegram_blocked_at__isnull=False).update(telegram_blocked_at=None)


def marketing_consent_withdraw(*, telegram_user_id: int | None = None, client: Client | None = None) -> int:
    """Withdraw every marketing consent of the person (152-FZ: at once); return how many were withdrawn.

    Matches consents by the client and by the Telegram account that gave them, so a consent
    given before the contact was shared is withdrawn too.
    """
    if telegram_user_id is None and client is None:
        raise DomainError("Не указано, чьё согласие отозвать.", code="consent_owner_missing")
    owner = Q(client=client) if client is not None else Q(telegram_user_id=telegram_user_id)
    if client is not None and telegram_user_id is not None:
        owner |= Q(telegram_user_id=telegram_user_id)
    return Consent.objects.filter(owner, purpose=ConsentPurpose.MARKETING, withdrawn_at__isnull=True).update(
        withdrawn_at=timezone.now()
    )


def marketing_consent_give(
    *, telegram_user_id: int, text: str, text_version: str, client: Client | None = None,
    message_id: int | None = None, channel: str = "telegram",
) -> Consent:
    """Record a separate consent to marketing messages (return-visit nudges): evidence of the exact text.

    Idempotent for a standing consent to the same text version.
    """
    existing = Consent.objects.filter(
        telegram_user_id=telegram_user_id, purpose=ConsentPurpose.MARKETING, text_version=text_version,
        withdrawn_at__isnull=True,
    ).first()
    if existing:
        return existing
    return Consent.objects.create(
        client=client, telegram_user_id=telegram_user_id, purpose=ConsentPurpose.MARKETING,
        text_version=text_version, text_hash=hashlib.sha256(text.encode("utf-8")).hexdigest(), text=text,
        channel=channel, message_id=message_id,
    )
