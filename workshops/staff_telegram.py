"""Linking a staff user's Telegram account: a one-time code shown in admin, sent to the bot as ``/link CODE``."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from workshops.errors import DomainError
from workshops.models import StaffTelegramLink

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: the code is read off a screen
CODE_LENGTH = 8
CODE_TTL = timedelta(minutes=15)


class LinkCodeInvalid(DomainError):
    code = "link_code_invalid"
    default_message = "Код не подошёл: он неверный или устарел. Получите новый в админке («Привязать Telegram»)."


def staff_telegram_code_issue(*, user: AbstractBaseUser, now: datetime | None = None) -> StaffTelegramLink:
    """Give ``user`` a fresh one-time code (valid ``CODE_TTL``), replacing any earlier one."""
    now = now or timezone.now()
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    link, _ = StaffTelegramLink.objects.update_or_create(
        user=user, defaults={"code": code, "code_expires_at": now + CODE_TTL}
    )
    return link


def staff_telegram_link(*, code: str, telegram_user_id: int, now: datetime | None = None) -> AbstractBaseUser:
    """Link the Telegram account that sent ``code`` to the code's user; the code is spent.

    One Telegram account belongs to one user: linking it here unlinks it elsewhere.
    Raises ``LinkCodeInvalid`` for an unknown or expired code.
    """
    now = now or timezone.now()
    normalized = "".join(code.split()).upper()
    with transaction.atomic():
        link = (
            StaffTelegramLink.objects.select_for_update().select_related("user")
            .filter(code=normalized, code_expires_at__gt=now, user__is_active=True).first()
        )
        if link is None or not normalized:
            raise LinkCodeInvalid()
        StaffTelegramLink.objects.filter(telegram_user_id=telegram_user_id).exclude(pk=link.pk).update(
            telegram_user_id=None, linked_at=None
        )
        link.telegram_user_id, link.linked_at = telegram_user_id, now
        link.code, link.code_expires_at = None, None
        link.save(update_fields=["telegram_user_id", "linked_at", "code", "code_expires_at"])
    return link.user


def staff_user_for_telegram(telegram_user_id: int) -> AbstractBaseUser | None:
    """The active staff user whose linked Telegram account this is, or ``None``."""
    return get_user_model().objects.filter(
        telegram_link__telegram_user_id=telegram_user_id, is_active=True, is_staff=True
    ).first()
