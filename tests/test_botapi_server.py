"""The local Bot API server answers python-telegram-bot's real HTTP client like Telegram would."""

import asyncio

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import Forbidden, RetryAfter

from tests.botapi import BotApiServer


@pytest.fixture
def server():
    with BotApiServer() as running:
        yield running


def run(coro):
    return asyncio.run(coro)


async def _bot_session(server, action):
    async with Bot(server.token, base_url=server.base_url) as bot:
        return await action(bot)


def test_ptb_sends_a_message_with_a_keyboard_and_edits_it(server):
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Подтвердить", callback_data="ok:1")]])

    async def action(bot):
        sent = await bot.send_message(42, "Запись на 10:00", reply_markup=keyboard)
        await bot.edit_message_text("Подтверждено", chat_id=42, message_id=sent.message_id)
        return sent

    sent = run(_bot_session(server, action))
    assert sent.text == "Запись на 10:00"
    [message] = server.sent_to(42)
    assert message["text"] == "Подтверждено" and "reply_markup" not in message
    assert [c.method for c in server.calls() if c.method != "getMe"] == ["sendMessage", "editMessageText"]
    assert server.calls("sendMessage")[0].params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "ok:1"


def test_it_delivers_updates_through_get_updates(server):
    server.user_sends_text(555, "/start")

    async def action(bot):
        return await bot.get_updates(timeout=1)

    [update] = run(_bot_session(server, action))
    assert update.message.text == "/start" and update.effective_user.id == 555


def test_it_answers_429_with_retry_after_and_403_for_a_blocked_chat(server):
    server.fail_next("sendMessage", retry_after=3)
    server.block_chat(13)

    async def action(bot):
        with pytest.raises(RetryAfter) as retry:
            await bot.send_message(1, "a")
        with pytest.raises(Forbidden, match="blocked"):
            await bot.send_message(13, "b")
        return retry.value

    retry_after = run(_bot_session(server, action)).retry_after
    assert getattr(retry_after, "total_seconds", lambda: retry_after)() == 3


def test_it_enforces_one_message_per_second_per_chat_when_asked():
    with BotApiServer(enforce_limits=True) as server:
        async def action(bot):
            await bot.send_message(7, "one")
            with pytest.raises(RetryAfter):
                await bot.send_message(7, "two")

        run(_bot_session(server, action))
        assert server.rejected_429 == 1
