"""The bot's PTB application: ``build_application()`` is the one place it is put together."""

import asyncio
import importlib
import importlib.util
from collections.abc import Awaitable, Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from telegram import Update
from telegram.ext import (
    AIORateLimiter,
    Application,
    BaseHandler,
    BaseRateLimiter,
    BaseUpdateProcessor,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from botapp import handlers
from botapp.request import AiohttpRequest
from config.heartbeat import heartbeat

NOTIFY_HANDLERS_MODULE = "botapp.notify_handlers"
_DEFAULT: Any = object()


class HeartbeatRequest(AiohttpRequest):
    """The connection getUpdates (long polling) uses: touches the heartbeat file (if any) after each answer.

    A long poll returns within its timeout (10 s) even when nobody writes, so the file's age
    is how long the bot has not heard from the Bot API (deploy/healthcheck.py, docker-compose.yml).
    One connection, as PTB's own getUpdates client has: one poll at a time.
    """

    def __init__(self) -> None:
        super().__init__(pool_size=1)

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        code, payload = await super().do_request(*args, **kwargs)
        if code == 200:
            heartbeat()
        return code, payload


class PerUserUpdateProcessor(BaseUpdateProcessor):
    """Different users' updates are handled concurrently; one user's updates one at a time, in order.

    Without it PTB handles every update in turn, so one user's slow network round trip
    holds up everyone; with plain concurrency two quick taps of one user could overtake
    each other.
    """

    def __init__(self, max_concurrent_updates: int = 32) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, tuple[asyncio.Lock, int]] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        user = update.effective_user if isinstance(update, Update) else None
        if user is None:
            await coroutine
            return
        lock, waiting = self._locks.get(user.id, (asyncio.Lock(), 0))
        self._locks[user.id] = (lock, waiting + 1)
        try:
            async with lock:
                await coroutine
        finally:
            lock, waiting = self._locks[user.id]
            if waiting == 1:
                del self._locks[user.id]
            else:
                self._locks[user.id] = (lock, waiting - 1)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to free."""


def extra_handlers() -> list[BaseHandler]:
    """Handlers of ``botapp.notify_handlers.handlers()`` (manager buttons, «Приеду», ratings, /link…), if present."""
    if importlib.util.find_spec(NOTIFY_HANDLERS_MODULE) is None:
        return []
    return list(importlib.import_module(NOTIFY_HANDLERS_MODULE).handlers())


def install_handlers(application: Application, extra: Iterable[BaseHandler] = ()) -> None:
    """The gate first (group -1), then ``extra`` handlers, then the conversation; one error handler."""
    application.add_handler(TypeHandler(Update, handlers.gate), group=-1)
    for handler in extra:
        application.add_handler(handler)
    private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
    application.add_handlers([
        CommandHandler("start", handlers.start, filters=private),
        CommandHandler("cancel", handlers.cancel, filters=private),
        CommandHandler("my", handlers.my, filters=private),
        CommandHandler("help", handlers.help_, filters=private),
        CommandHandler("withdraw", handlers.withdraw, filters=private),
        CallbackQueryHandler(handlers.button),
        ChatMemberHandler(handlers.membership, ChatMemberHandler.MY_CHAT_MEMBER),
        MessageHandler(private & filters.CONTACT, handlers.contact),
        MessageHandler(private & filters.COMMAND, handlers.unknown_command),
        MessageHandler(private & filters.TEXT, handlers.text),
        MessageHandler(private, handlers.other),
    ])
    application.add_error_handler(handlers.on_error)


def file_url(base_url: str) -> str:
    """``https://api.telegram.org/bot`` → ``https://api.telegram.org/file/bot`` (same for a self-hosted server)."""
    head, _, tail = base_url.rstrip("/").rpartition("/")
    return f"{head}/file/{tail}"


def build_application(
    *, token: str | None = None, base_url: str | None = None,
    rate_limiter: BaseRateLimiter | None = _DEFAULT, update_processor: BaseUpdateProcessor | None = None,
) -> Application:
    """The bot, ready for ``run_polling`` / ``run_webhook`` (or ``initialize`` + ``process_update`` in tests).

    Reads ``TELEGRAM_BOT_TOKEN`` and ``TELEGRAM_API_URL`` (the Bot API base: Telegram's,
    a self-hosted server's, or the test server's). Outgoing calls keep within Telegram's
    limits through ``AIORateLimiter`` unless another ``rate_limiter`` (or ``None``) is given;
    calls go through ``AiohttpRequest`` (``botapp.request``, honours ``HTTPS_PROXY``);
    updates are handled by a ``PerUserUpdateProcessor`` unless another ``update_processor`` is.
    """
    token = token or settings.TELEGRAM_BOT_TOKEN
    if not token:
        raise ImproperlyConfigured("Set TELEGRAM_BOT_TOKEN to the bot's token from @BotFather.")
    base_url = base_url or settings.TELEGRAM_API_URL
    builder = (
        Application.builder().token(token).base_url(base_url).base_file_url(file_url(base_url))
        .concurrent_updates(update_processor or PerUserUpdateProcessor())
        # Half of the bot's CPU went into httpx per Bot API call; see botapp/request.py.
        .request(AiohttpRequest())
        # With a heartbeat file, the long poll is what tells the healthcheck we hear from Telegram.
        .get_updates_request(HeartbeatRequest())
    )
    if rate_limiter is _DEFAULT:
        rate_limiter = AIORateLimiter(max_retries=3)
    if rate_limiter is not None:
        builder = builder.rate_limiter(rate_limiter)
    application = builder.post_shutdown(release).build()
    install_handlers(application, extra_handlers())
    return application


async def release(application: Application) -> None:
    """After shutdown: close the gate's Redis connections and the database threads' connections."""
    if "gate" in application.bot_data:
        await application.bot_data.pop("gate").close()
    await handlers.close_db_connections()
