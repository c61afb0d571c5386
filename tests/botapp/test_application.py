"""How the application is put together: extra handlers first, per-user ordering, callback data, log redaction."""

import asyncio
import io
import logging

import pytest
from telegram import Update
from telegram.ext import CommandHandler

from botapp import callbacks
from botapp.application import PerUserUpdateProcessor, build_application, extra_handlers, file_url, install_handlers
from botapp.redact import RedactingFilter
from tests.botrunner import BotRunner, clear_bot_cache

USER = 6001


@pytest.mark.django_db(transaction=True)
def test_extra_handlers_come_before_the_conversation(botapi, shop):
    async def link(update, context):
        """A staff-linking command another module adds."""
        await context.bot.send_message(update.effective_chat.id, "связано")

    async def start_elsewhere(update, context):
        await context.bot.send_message(update.effective_chat.id, "перехвачено")

    def factory():
        application = build_application()
        application.handlers.clear()
        install_handlers(application, extra=[CommandHandler("link", link), CommandHandler("start", start_elsewhere)])
        return application

    clear_bot_cache()
    runner = BotRunner(botapi, factory=factory)
    try:
        runner.text(USER, "/link ABC123")
        runner.text(USER, "/start")
        runner.text(USER, "/help")
    finally:
        runner.stop()
    texts = runner.texts(USER)
    assert texts[:2] == ["связано", "перехвачено"] and "/my — мои записи" in texts[2]


def test_without_a_notify_handlers_module_there_are_no_extra_handlers():
    assert extra_handlers() == [] or all(hasattr(handler, "check_update") for handler in extra_handlers())


def test_the_file_url_follows_the_api_url():
    assert file_url("https://api.telegram.org/bot") == "https://api.telegram.org/file/bot"
    assert file_url("http://127.0.0.1:8081/bot/") == "http://127.0.0.1:8081/file/bot"


def update_from(user_id: int, update_id: int) -> Update:
    return Update.de_json({"update_id": update_id, "message": {
        "message_id": update_id, "date": 0, "text": "x", "chat": {"id": user_id, "type": "private"},
        "from": {"id": user_id, "is_bot": False, "first_name": "Т"}}}, None)


def test_one_users_updates_run_in_order_while_other_users_run_alongside():
    log: list[tuple[str, int, int]] = []

    async def handle(user_id: int, number: int) -> None:
        log.append(("start", user_id, number))
        await asyncio.sleep(0.02)
        log.append(("end", user_id, number))

    async def main() -> None:
        processor = PerUserUpdateProcessor(8)
        await processor.initialize()
        jobs = [(1, n) for n in range(3)] + [(2, n) for n in range(3)]
        await asyncio.gather(*(
            processor.process_update(update_from(user, 100 * user + n), handle(user, n)) for user, n in jobs
        ))
        assert processor._locks == {}

    asyncio.run(main())
    for user in (1, 2):
        own = [(kind, n) for kind, u, n in log if u == user]
        assert own == [("start", 0), ("end", 0), ("start", 1), ("end", 1), ("start", 2), ("end", 2)]
    first_end = log.index(next(entry for entry in log if entry[0] == "end"))
    assert {entry[1] for entry in log[:first_end]} == {1, 2}, "the two users ran concurrently"


@pytest.mark.parametrize("data, expected", [
    ("s:12:day:20261130", ("step", "day", "20261130", 12)),
    ("s:3:back", ("step", "back", "", 3)),
    ("bk:cancel:42", ("booking", "cancel", "", -1)),
    ("menu:my", ("menu", "my", "", -1)),
    ("consent:1", ("consent", "", "1", -1)),
])
def test_callback_data_is_parsed_by_shape(data, expected):
    button = callbacks.parse(data)
    assert (button.kind, button.action, button.arg, button.step) == expected


@pytest.mark.parametrize("data", [
    None, "", "s:x:day:1", "s:1:DAY:1", "s:1:day:../..", "bk:cancel:-1", "bk:drop:1", "bk:cancel:1:2",
    "s:1234567890:day:1", "menu:admin", "consent:", "noop:1", "s:1:day:" + "1" * 17,
])
def test_anything_else_is_not_a_button(data):
    assert callbacks.parse(data) is None


def test_callback_data_fits_telegrams_64_bytes():
    longest = [callbacks.step(999_999_999, "day", "20261130"), callbacks.booking("cancelok", 10**18 - 1),
               callbacks.step(999_999_999, "tm", "202611301030")]
    assert all(len(data.encode()) <= 64 and callbacks.parse(data) for data in longest)


def test_the_log_filter_masks_the_token_and_phone_numbers():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter("123456:SECRET-TOKEN"))
    logger = logging.getLogger("tests.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.error("GET https://api.telegram.org/bot%s/getMe for +7 912 123-45-67", "123456:SECRET-TOKEN")
        try:
            raise ValueError("Key (number)=(+79121234567) already exists; url /bot123456:SECRET-TOKEN/x")
        except ValueError:
            logger.exception("failed with 89121234567")
    finally:
        logger.removeHandler(handler)
    written = stream.getvalue()
    assert "SECRET-TOKEN" not in written and "912" not in written
    assert "bot[token]/getMe" in written and "([phone]) already exists" in written and "failed with [phone]" in written
    assert "update 1234567890 from user 987654321" == RedactingFilter().redact("update 1234567890 from user 987654321")


@pytest.mark.parametrize("make", ["memory", "redis"])
def test_the_gate_drops_repeats_and_a_users_excess_with_one_warning(make, settings):
    from django.core.cache import cache

    from botapp.gate import FLOOD_LIMIT, MemoryGate, RedisGate, Verdict

    async def scenario() -> list[Verdict]:
        gate = MemoryGate() if make == "memory" else RedisGate(settings.REDIS_URL, bot_id=424242)
        try:
            verdicts = [await gate.check(update_id=n, user_id=7) for n in range(1, FLOOD_LIMIT + 4)]
            verdicts.append(await gate.check(update_id=1, user_id=8))      # a repeated update id
            verdicts.append(await gate.check(update_id=100, user_id=8))    # another user is not slowed
            verdicts.append(await gate.check(update_id=101, user_id=None))  # no user (a channel post)
            await gate.forget_user(7)
            verdicts.append(await gate.check(update_id=102, user_id=7))    # a fresh window
            return verdicts
        finally:
            await gate.close()

    cache.clear()
    verdicts = asyncio.run(scenario())
    cache.clear()
    assert verdicts[:FLOOD_LIMIT] == [Verdict.PASS] * FLOOD_LIMIT
    assert verdicts[FLOOD_LIMIT:FLOOD_LIMIT + 3] == [Verdict.SLOW_DOWN, Verdict.FLOOD, Verdict.FLOOD]
    assert verdicts[FLOOD_LIMIT + 3:] == [Verdict.REPEAT, Verdict.PASS, Verdict.PASS, Verdict.PASS]
