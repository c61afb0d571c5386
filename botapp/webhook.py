"""Webhook mode: PTB's own web server, with the secret header compared in constant time."""

import hmac
from urllib.parse import urlparse

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from telegram import Update
from telegram.ext import Application

_SECRET_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


class ConstantTimeSecret(str):
    """The webhook secret; equality with it is decided by ``hmac.compare_digest``.

    PTB's webhook handler answers 403 when the ``X-Telegram-Bot-Api-Secret-Token`` header
    is missing, and compares a present one with ``header != secret``. Python lets the
    right operand answer first when its type is a subclass of the left one's, so this
    class's ``__ne__`` — constant time — decides, and the time a wrong guess takes says
    nothing about how much of it was right.
    """

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, str):
            return NotImplemented
        return hmac.compare_digest(str.encode(self), other.encode("utf-8", "surrogatepass"))

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = str.__hash__


def webhook_options(*, listen: str, port: int) -> dict[str, object]:
    """Arguments for ``Application.run_webhook`` / ``Updater.start_webhook`` from the settings.

    Raises ``ImproperlyConfigured`` naming the variable when the URL or the secret is unusable.
    """
    url = settings.TELEGRAM_WEBHOOK_URL
    secret = settings.TELEGRAM_WEBHOOK_SECRET
    parsed = urlparse(url)
    if parsed.scheme not in ("https", "http") or not parsed.netloc:
        raise ImproperlyConfigured("Укажите TELEGRAM_WEBHOOK_URL: публичный адрес вебхука, https://…")
    if not (1 <= len(secret) <= 256) or not set(secret) <= _SECRET_CHARS:
        raise ImproperlyConfigured(
            "Укажите TELEGRAM_WEBHOOK_SECRET: 1–256 символов, только A–Z, a–z, 0–9, _ и - (правило Telegram)."
        )
    return {
        "listen": listen, "port": port, "url_path": parsed.path.lstrip("/"), "webhook_url": url,
        "secret_token": ConstantTimeSecret(secret), "allowed_updates": Update.ALL_TYPES,
    }


def run_webhook(application: Application, *, listen: str, port: int) -> None:
    """Serve Telegram's webhook until stopped (SIGINT/SIGTERM); registers the URL and secret with Telegram."""
    application.run_webhook(**webhook_options(listen=listen, port=port))
