"""PTB handlers: carry an update into the conversation (``botapp.flow``) and its reply back out.

Each handler is small: it takes who sent what, makes one trip to a database thread
(``db``) and shows the ``Reply``. Messages are plain text — no parse mode — so nothing
a user typed can break one.
"""

import asyncio
import functools
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection
from telegram import CallbackQuery, Message, Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import Application, ApplicationHandlerStop, ContextTypes

from botapp import flow
from botapp.flow import Out, Reply, TgUser
from botapp.gate import MemoryGate, RedisGate, Verdict, make_gate
from botapp.texts import render

logger = logging.getLogger(__name__)
T = TypeVar("T")
Context = ContextTypes.DEFAULT_TYPE


# --- the database threads ------------------------------------------------------------
# Database work runs on a few threads of its own, each with its own connection, so while
# one waits for PostgreSQL (a commit's flush) another can work. One user's updates never
# run at once (``PerUserUpdateProcessor``), so no two threads work on one session.
DB_THREADS = 4
_db_executor = ThreadPoolExecutor(max_workers=DB_THREADS, thread_name_prefix="bot-db")


def _usable_connection() -> None:
    """Drop a connection that failed (the database restarted, …) so the next query reconnects."""
    if connection.connection is not None and connection.errors_occurred:
        if connection.is_usable():
            connection.errors_occurred = False
        else:
            connection.close()


def db(func: Callable[..., T]) -> Callable[..., Any]:
    """``func`` run on a database thread, on a usable connection."""
    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> T:
        _usable_connection()
        return func(*args, **kwargs)

    return sync_to_async(guarded, thread_sensitive=False, executor=_db_executor)


async def close_db_connections() -> None:
    """Close every database thread's connection (at shutdown): one task per thread, held until all have one."""
    barrier = threading.Barrier(DB_THREADS)

    def close() -> None:
        barrier.wait(timeout=10)
        connection.close()

    await asyncio.gather(*(asyncio.wrap_future(_db_executor.submit(close)) for _ in range(DB_THREADS)))


def sender(update: Update) -> TgUser:
    user = update.effective_user
    return TgUser(id=user.id, first_name=user.first_name or "", username=user.username or "")


# --- showing a reply ---------------------------------------------------------------------
async def show(update: Update, context: Context, reply: Reply) -> None:
    """Send ``reply``: for a button, answer it and edit or strip the pressed message; otherwise send."""
    messages = list(reply.messages)
    query = update.callback_query
    if query is not None:
        pressed = query.message if isinstance(query.message, Message) else None
        tasks = [query.answer(reply.answer[:200] or None, show_alert=reply.alert)]
        if pressed is not None and reply.strip_pressed:
            tasks.append(_quietly(pressed.edit_reply_markup(reply_markup=None)))
        elif pressed is not None and reply.in_place and messages and messages[0].editable:
            tasks.append(_edit(pressed, messages.pop(0), context))
        await asyncio.gather(*tasks)
    for out in messages:
        await context.bot.send_message(update.effective_user.id, out.text, reply_markup=out.markup)


async def _edit(message: Message, out: Out, context: Context) -> None:
    """Replace a message with ``out``; a message Telegram will not edit any more gets ``out`` as a new one."""
    try:
        await message.edit_text(out.text, reply_markup=out.markup)
    except BadRequest as exc:
        if "not modified" in exc.message:
            return
        await context.bot.send_message(message.chat.id, out.text, reply_markup=out.markup)


async def _quietly(action: Any) -> None:
    """An edit that may fairly fail (already edited, too old): the reply does not depend on it."""
    try:
        await action
    except BadRequest:
        pass


# --- before everything ---------------------------------------------------------------------
def gate_of(application: Application) -> RedisGate | MemoryGate:
    """The application's repeated-update and flood counters, made on first use (on the running loop)."""
    if "gate" not in application.bot_data:
        application.bot_data["gate"] = make_gate(redis_url=settings.REDIS_URL, bot_id=application.bot.id)
    return application.bot_data["gate"]


async def gate(update: Update, context: Context) -> None:
    """Drop a repeated update and a flooding user's excess before any other handler sees them."""
    user = update.effective_user
    verdict = await gate_of(context.application).check(update_id=update.update_id, user_id=user.id if user else None)
    if verdict is Verdict.PASS:
        return
    if verdict is Verdict.SLOW_DOWN and update.effective_chat and update.effective_chat.type == ChatType.PRIVATE:
        await context.bot.send_message(update.effective_chat.id, render("slow_down"))
    logger.info("Dropped update %s: %s", update.update_id, verdict.value)
    raise ApplicationHandlerStop


# --- commands and messages -------------------------------------------------------------------
async def start(update: Update, context: Context) -> None:
    """/start: the greeting and the consent, or the contact, or the menu."""
    await show(update, context, await db(flow.handle_command)(sender(update), "start"))


async def cancel(update: Update, context: Context) -> None:
    """/cancel: leave whatever step the user is in."""
    await show(update, context, await db(flow.handle_command)(sender(update), "cancel"))


async def my(update: Update, context: Context) -> None:
    """/my: upcoming bookings, each with «Отменить» and «Перенести»."""
    await show(update, context, await db(flow.handle_command)(sender(update), "my"))


async def withdraw(update: Update, context: Context) -> None:
    """/withdraw: take back the consent to personal-data processing (asks first)."""
    await show(update, context, await db(flow.handle_command)(sender(update), "withdraw"))


async def help_(update: Update, context: Context) -> None:
    """/help: what the bot does."""
    await show(update, context, await db(flow.handle_command)(sender(update), "help"))


async def text(update: Update, context: Context) -> None:
    """Typed text: the answer to the current step."""
    await show(update, context, await db(flow.handle_text)(sender(update), update.message.text or ""))


async def contact(update: Update, context: Context) -> None:
    """A shared contact: accepted only when it is the sender's own."""
    shared = update.message.contact
    reply = await db(flow.handle_contact)(sender(update), phone=shared.phone_number, contact_user_id=shared.user_id)
    await show(update, context, reply)


async def unknown_command(update: Update, context: Context) -> None:
    """A command the bot does not have."""
    await show(update, context, Reply([Out(render("unknown"))]))


async def other(update: Update, context: Context) -> None:
    """Stickers, photos, voice: the bot reads text and buttons only."""
    await show(update, context, flow.handle_other(sender(update)))


async def button(update: Update, context: Context) -> None:
    """Any inline button of ours: routed by its data, always answered."""
    query: CallbackQuery = update.callback_query
    message_id = query.message.message_id if query.message else None
    await show(update, context, await db(flow.handle_button)(sender(update), query.data or "", message_id))


async def membership(update: Update, context: Context) -> None:
    """The user blocked or unblocked the bot in their private chat: nothing to answer, only the client's mark."""
    change = update.my_chat_member
    if change.chat.type != ChatType.PRIVATE:
        return
    blocked = change.new_chat_member.status == ChatMemberStatus.BANNED  # «kicked»: the user blocked the bot
    await db(flow.handle_membership)(sender(update), blocked=blocked)


# --- errors ---------------------------------------------------------------------------------
async def on_error(update: object, context: Context) -> None:
    """Log the error first (ids only), then tell the user it did not work."""
    update_id = getattr(update, "update_id", None)
    if isinstance(context.error, Forbidden):
        logger.warning("Update %s: Telegram refused to deliver the reply: %s", update_id, context.error)
        return
    logger.error("Update %s failed", update_id, exc_info=context.error)
    if not isinstance(update, Update) or update.effective_chat is None or update.effective_chat.type != ChatType.PRIVATE:
        return
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(render("answer_sorry"))
        await context.bot.send_message(update.effective_chat.id, render("error"))
    except TelegramError as exc:
        logger.warning("Update %s: could not apologise either: %s", update_id, exc)
