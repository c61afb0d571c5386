"""Telegram and e-mail transports. Each raises ``TransportError`` saying whether a retry makes sense."""

from __future__ import annotations

import logging
import smtplib
import socket
import time
from collections.abc import Mapping, Sequence
from email.utils import make_msgid
from functools import lru_cache

import httpx
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

from bookings.notifications import ratelimit

logger = logging.getLogger(__name__)

# Answers after which the chat will never take our messages (until the person writes to
# the bot again): retrying only spends the bot's flood budget.
TELEGRAM_RECIPIENT_GONE = (
    "bot was blocked by the user",
    "user is deactivated",
    "chat not found",
    "bot was kicked",
    "bot is not a member",
    "bot can't initiate conversation",
    "group chat was deactivated",
    "have no rights to send",
    "need administrator rights",
)
SMTP_TIMEOUT_SECONDS = 15


class TransportError(Exception):
    """Sending failed. ``permanent``: the same message will never go through, do not retry.

    ``retry_after``: seconds the transport asks us to wait (Telegram's 429, or our own
    limiter); such a wait is not the message's fault and does not count as an attempt.
    ``recipient_gone``: the recipient cannot be reached at all (blocked the bot, chat gone).
    """

    def __init__(
        self, message: str, *, permanent: bool = False, retry_after: float | None = None,
        recipient_gone: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.retry_after = retry_after
        self.recipient_gone = recipient_gone


class ChatMigrated(TransportError):
    """The group became a supergroup (Telegram's 400 with ``migrate_to_chat_id``): send to ``new_chat_id``."""

    def __init__(self, message: str, *, new_chat_id: int) -> None:
        super().__init__(message, permanent=True)
        self.new_chat_id = new_chat_id


# --- Telegram --------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _http() -> httpx.Client:
    """One connection pool per worker process (created lazily, so after the worker forks)."""
    return httpx.Client(timeout=httpx.Timeout(10.0, connect=5.0))


def _hide_token(text: str) -> str:
    token = settings.TELEGRAM_BOT_TOKEN
    return text.replace(token, "***") if token else text


def telegram_call(method: str, payload: dict) -> dict:
    """Call a Bot API method and return its ``result``; raise ``TransportError`` on any failure."""
    if not settings.TELEGRAM_BOT_TOKEN:
        raise TransportError("Telegram-бот не настроен: не задан TELEGRAM_BOT_TOKEN.", permanent=True)
    url = f"{settings.TELEGRAM_API_URL}{settings.TELEGRAM_BOT_TOKEN}/{method}"
    try:
        response = _http().post(url, json=payload)
        body = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise TransportError(_hide_token(f"Telegram недоступен: {type(exc).__name__}: {exc}")) from None
    if body.get("ok"):
        return body.get("result") or {}
    return _raise_for(body)


def _raise_for(body: dict) -> dict:
    code = int(body.get("error_code") or 0)
    description = _hide_token(str(body.get("description") or "без описания"))
    message = f"Telegram {code}: {description}"
    migrate_to = (body.get("parameters") or {}).get("migrate_to_chat_id")
    if migrate_to:
        raise ChatMigrated(message, new_chat_id=int(migrate_to))
    if code == 429:
        retry_after = float((body.get("parameters") or {}).get("retry_after") or 1)
        raise TransportError(message, retry_after=retry_after)
    if any(marker in description.lower() for marker in TELEGRAM_RECIPIENT_GONE):
        raise TransportError(message, permanent=True, recipient_gone=True)
    if code == 400:
        # Our request itself is wrong (text too long, bad keyboard): resending it changes nothing.
        raise TransportError(message, permanent=True)
    raise TransportError(message)


def telegram_send(chat_id: int, text: str, reply_markup: dict | None = None) -> str:
    """Send ``text`` to ``chat_id`` within the shared rate limits; return the message id.

    Waits for a free slot when it is near; when the wait would be long, raises
    ``TransportError(retry_after=…)`` so the row is retried later instead of holding a worker.
    """
    try:
        wait = ratelimit.reserve(chat_id)
    except ratelimit.SlotTooFar as far:
        raise TransportError("Лимит Telegram: отправка отложена.", retry_after=far.wait) from None
    if wait:
        time.sleep(wait)
    payload: dict = {"chat_id": chat_id, "text": text, "disable_web_page_preview": True}
    if reply_markup:
        payload["reply_markup"] = reply_markup
    try:
        result = telegram_call("sendMessage", payload)
    except TransportError as exc:
        if exc.retry_after:
            ratelimit.pause(chat_id, exc.retry_after)
        raise
    return str(result.get("message_id", ""))


# --- e-mail ------------------------------------------------------------------------------

def email_send(
    to: list[str], subject: str, text: str, html: str, attachments: Sequence[tuple[str, bytes, str]] = (),
    headers: Mapping[str, str] | None = None,
) -> str:
    """Send one e-mail (text with an HTML alternative, any (filename, content, MIME type)
    attachments and extra headers) through ``EMAIL_URL``; return its Message-ID."""
    message_id = make_msgid(domain="sto-booking")
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split()), body=text, from_email=settings.DEFAULT_FROM_EMAIL, to=to,
        connection=get_connection(timeout=SMTP_TIMEOUT_SECONDS), headers={**(headers or {}), "Message-ID": message_id},
    )
    message.attach_alternative(html, "text/html")
    for filename, content, mimetype in attachments:
        message.attach(filename, content, mimetype)
    try:
        message.send()
    except smtplib.SMTPRecipientsRefused as exc:
        raise TransportError(f"Адрес отклонён сервером: {', '.join(exc.recipients)}", permanent=True) from None
    except smtplib.SMTPResponseException as exc:
        # 5xx: the server refuses this message for good; 4xx: try again later.
        raise TransportError(
            f"SMTP {exc.smtp_code}: {exc.smtp_error!r}", permanent=500 <= exc.smtp_code < 600
        ) from None
    except (smtplib.SMTPException, OSError, socket.timeout) as exc:
        raise TransportError(f"Почтовый сервер недоступен: {type(exc).__name__}: {exc}") from None
    return message_id
