"""The bot's real PTB application, driven end to end against the local Bot API server (``tests.botapi``).

The application runs on its own event loop in a background thread, as in production;
``deliver()`` fetches pending updates with a real ``getUpdates`` call and has the
application process them, so every call the bot makes goes over HTTP to the server.
Tests read like a user: ``runner.text(USER, "/start")``, ``runner.press(USER, "Согласен")``.
Use it with a transactional database (the bot's database thread has its own connection).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any

from asgiref.sync import sync_to_async
from django.core.cache import cache
from django.db import connection
from telegram.ext import Application

from tests.botapi import BotApiServer


class BotRunner:
    def __init__(self, server: BotApiServer, factory: Callable[[], Application] | None = None,
                 human_pace: bool = True) -> None:
        from botapp.application import build_application

        self.server = server
        # The helpers below act like a person, who takes a few seconds per tap: each action
        # starts a fresh flood window. Flood tests push updates straight to the server instead.
        self.human_pace = human_pace
        self.factory = factory or build_application
        self.offset = 0
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="bot-loop", daemon=True)
        self._thread.start()
        self.app = self.run(self._start())

    def run(self, coroutine: Coroutine[Any, Any, Any], timeout: float = 30) -> Any:
        """Run a coroutine on the bot's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    async def _start(self) -> Application:
        application = self.factory()
        await application.initialize()
        return application

    # --- delivering updates ---------------------------------------------------------------
    def deliver(self) -> int:
        """Fetch the pending updates over HTTP and process them one by one; how many there were."""
        async def fetch_and_process() -> int:
            updates = await self.app.bot.get_updates(offset=self.offset, timeout=0)
            for update in updates:
                self.offset = update.update_id + 1
                await self.app.process_update(update)
            return len(updates)

        return self.run(fetch_and_process())

    def _pace(self, user_id: int) -> None:
        if self.human_pace:
            from botapp.gate import flood_key

            cache.delete(flood_key(self.app.bot.id, user_id))

    def text(self, user_id: int, text: str) -> None:
        self._pace(user_id)
        self.server.user_sends_text(user_id, text)
        self.deliver()

    def contact(self, user_id: int, phone: str, contact_user_id: int | None = -1) -> None:
        self._pace(user_id)
        self.server.user_shares_contact(user_id, phone, contact_user_id=contact_user_id)
        self.deliver()

    def press(self, user_id: int, label: str, message: dict | None = None) -> str:
        """Press the inline button whose text is (or else contains) ``label`` in the newest message that has one."""
        data, found_in = self.find_button(user_id, label, message)
        self._pace(user_id)
        self.server.user_presses(user_id, data, message=found_in)
        self.deliver()
        return data

    def press_first(self, user_id: int, action: str) -> str:
        """Press the first button of the newest keyboard whose data is a step ``action`` (``day``, ``tm``…)."""
        message = self.server.last_message(user_id)
        for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
            for button in row:
                if f":{action}:" in button.get("callback_data", ""):
                    self._pace(user_id)
                    self.server.user_presses(user_id, button["callback_data"], message=message)
                    self.deliver()
                    return button["callback_data"]
        raise AssertionError(f"no «{action}» button in: {message.get('text')!r}")

    def press_data(self, user_id: int, data: str, message: dict | None = None) -> None:
        """Send a callback with arbitrary ``data`` (tampering) under ``message`` (the last one by default)."""
        self._pace(user_id)
        self.server.user_presses(user_id, data, message=message)
        self.deliver()

    def find_button(self, user_id: int, label: str, message: dict | None = None) -> tuple[str, dict]:
        candidates = [message] if message else list(reversed(self.server.sent_to(user_id)))
        for exact in (True, False):
            for candidate in candidates:
                for row in (candidate.get("reply_markup") or {}).get("inline_keyboard", []):
                    for button in row:
                        if (button["text"] == label) if exact else (label in button["text"]):
                            return button["callback_data"], candidate
        raise AssertionError(f"no button «{label}» in the bot's messages to {user_id}: {self.texts(user_id)[-3:]}")

    # --- what the user sees --------------------------------------------------------------
    def texts(self, user_id: int) -> list[str]:
        return [message["text"] for message in self.server.sent_to(user_id) if "text" in message]

    def last_text(self, user_id: int) -> str:
        return self.texts(user_id)[-1]

    def buttons(self, user_id: int, message: dict | None = None) -> list[str]:
        """Labels of the inline buttons under ``message`` (the bot's last message by default)."""
        message = message or self.server.last_message(user_id)
        return [b["text"] for row in (message.get("reply_markup") or {}).get("inline_keyboard", []) for b in row]

    # --- lifecycle ---------------------------------------------------------------------------
    def restart(self) -> None:
        """Throw the application away and build a new one, as a restarted bot process would."""
        self.run(self._shutdown())
        self.app = self.run(self._start())

    def serve_webhook(self, **options: Any) -> None:
        """Run PTB's own webhook server (``Updater.start_webhook``) and process what arrives, as in production."""
        async def start() -> None:
            await self.app.updater.start_webhook(**options)
            await self.app.start()

        self.run(start())

    async def _shutdown(self) -> None:
        if self.app.updater and self.app.updater.running:
            await self.app.updater.stop()
        if self.app.running:
            await self.app.stop()
        await self.app.shutdown()

    def stop(self) -> None:
        self.run(self._shutdown())
        self.run(sync_to_async(_close_connection, thread_sensitive=True)())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        self.loop.close()


def _close_connection() -> None:
    """Close the database thread's own connection (``connection`` resolves per thread)."""
    connection.close()


def clear_bot_cache() -> None:
    """Forget repeated-update and flood counters: every test's Bot API server numbers updates from 1."""
    cache.clear()
