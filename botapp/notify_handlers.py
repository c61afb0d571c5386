"""Bot handlers for the notifications' buttons and commands (issue 4).

The bot's application factory adds ``handlers()``. Callback data is never trusted:
every handler finds the person by their Telegram id and re-checks ownership, branch
membership and the booking's state in the database (``bookings.notifications.actions``).

- ``nt:mgr:confirm:<id>`` / ``nt:mgr:cancel:<id>`` — managers' buttons on a new booking;
- ``nt:come:<id>`` — «Приеду» on a reminder (the reminder's «Отменить» / «Перенести» are
  ``bk:cancel:<id>`` / ``bk:resched:<id>``, handled by the booking conversation);
- ``nt:rate:<id>:<1-5>`` — the rating under the thank-you message;
- ``/ads`` and ``nt:ads:ask`` (on the thank-you) — show the separate marketing consent,
  ``nt:ads:yes:<version>`` — accept it; ``/stop_ads`` — withdraw it at once;
- ``/link CODE`` — link a staff member's Telegram; ``/chatid`` — show the chat's id (for
  the branch's managers' chat);
- the service message of a group upgraded to a supergroup — the managers' chat follows it.
"""

from __future__ import annotations

import logging

from asgiref.sync import sync_to_async
from django.utils import timezone
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, ContextTypes, MessageHandler, filters

from bookings.models import BookingStatus
from bookings.notifications import actions
from bookings.notifications.managers_chat import manager_chat_migrate
from clients.models import Client
from clients.services import marketing_consent_withdraw
from workshops.errors import DomainError
from workshops.staff_telegram import staff_telegram_link

logger = logging.getLogger(__name__)

DONE_BY = {BookingStatus.CONFIRMED: "✅ Подтвердил(а)", BookingStatus.CANCELLED: "❌ Отменил(а)"}
STARS = {n: "★" * n + "☆" * (5 - n) for n in range(1, 6)}


def _person(user) -> str:
    return user.get_full_name() or user.get_username()


def _without_status_line(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.startswith("Статус сейчас:"))


async def _edit(query, text: str, reply_markup: InlineKeyboardMarkup | None = None) -> None:
    """Edit the pressed message; an unchanged or deleted message is not an error for the person."""
    try:
        await query.edit_message_text(text, reply_markup=reply_markup)
    except BadRequest as error:
        logger.info("Could not edit message after a button press: %s", error.message)


async def manager_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A manager pressed «Подтвердить» or «Отменить» under a new booking."""
    query = update.callback_query
    action, booking_id = context.matches[0].group(1), int(context.matches[0].group(2))
    to_status = BookingStatus.CONFIRMED if action == "confirm" else BookingStatus.CANCELLED
    try:
        booking, user = await sync_to_async(actions.manager_decides)(
            telegram_user_id=update.effective_user.id, booking_id=booking_id, to_status=to_status
        )
    except DomainError as error:
        await query.answer(error.message, show_alert=True)
        return
    at = timezone.now().astimezone(booking.workshop.tz)
    original = _without_status_line(getattr(query.message, "text", "") or "")
    await query.answer("Готово.")
    await _edit(query, f"{original}\n\n{DONE_BY[to_status]}: {_person(user)}, {at:%d.%m %H:%M}")


async def client_comes(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The client pressed «Приеду» on a reminder."""
    query = update.callback_query
    try:
        await sync_to_async(actions.client_confirms_visit)(
            telegram_user_id=update.effective_user.id, booking_id=int(context.matches[0].group(1))
        )
    except DomainError as error:
        await query.answer(error.message, show_alert=True)
        return
    await query.answer("Спасибо! Ждём вас.")
    keyboard = getattr(query.message, "reply_markup", None)
    # Keep «Отменить» / «Перенести»: plans may still change.
    rest = [row for row in (keyboard.inline_keyboard if keyboard else ())
            if not any((button.callback_data or "").startswith("nt:come:") for button in row)]
    text = getattr(query.message, "text", "") or ""
    await _edit(query, f"{text}\n\n👍 Вы подтвердили визит. Ждём вас!", InlineKeyboardMarkup(rest) if rest else None)


async def client_rates(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The client pressed a rating button under the thank-you message."""
    query = update.callback_query
    booking_id, rating = int(context.matches[0].group(1)), int(context.matches[0].group(2))
    try:
        await sync_to_async(actions.client_rates_visit)(
            telegram_user_id=update.effective_user.id, booking_id=booking_id, rating=rating
        )
    except DomainError as error:
        await query.answer(error.message, show_alert=True)
        return
    await query.answer("Спасибо за оценку!")
    text = getattr(query.message, "text", "") or ""
    await _edit(query, f"{text}\n\nВаша оценка: {STARS[rating]} — спасибо!")


async def ads_offer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/ads or «Напоминать о плановом ТО»: show the marketing consent with its own «Согласен» button."""
    if update.callback_query:
        await update.callback_query.answer()
    text = await sync_to_async(actions.marketing_consent_text)()
    keyboard = InlineKeyboardMarkup(
        [[InlineKeyboardButton("✅ Согласен", callback_data=f"nt:ads:yes:{actions.MARKETING_CONSENT_VERSION}")]]
    )
    await context.bot.send_message(update.effective_chat.id, text, reply_markup=keyboard)


async def ads_accept(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """«Согласен» under the marketing consent: record it with the message it was given under."""
    query = update.callback_query
    try:
        await sync_to_async(actions.client_accepts_marketing)(
            telegram_user_id=update.effective_user.id, text_version=context.matches[0].group(1),
            message_id=getattr(query.message, "message_id", None),
        )
    except DomainError as error:
        await query.answer(error.message, show_alert=True)
        return
    await query.answer("Спасибо!")
    text = getattr(query.message, "text", "") or ""
    await _edit(query, f"{text}\n\n✅ Согласие получено. Отозвать: /stop_ads")


def _withdraw_marketing(telegram_user_id: int) -> int:
    client = Client.objects.filter(telegram_user_id=telegram_user_id).first()
    return marketing_consent_withdraw(telegram_user_id=telegram_user_id, client=client)


async def stop_ads(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/stop_ads: withdraw marketing consent at once (152-FZ)."""
    withdrawn = await sync_to_async(_withdraw_marketing)(update.effective_user.id)
    if withdrawn:
        text = "Готово: рекламные и сервисные рассылки отключены. Напоминания о ваших записях будут приходить как раньше."
    else:
        text = "Рассылки вам не приходят: согласия на них нет. Напоминания о записях будут приходить как раньше."
    await update.effective_message.reply_text(text)


async def link_staff(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/link CODE: a staff member links this Telegram account with the code from admin."""
    code = " ".join(context.args or [])
    if not code:
        await update.effective_message.reply_text("Отправьте код из админки так: /link КОД")
        return
    try:
        user = await sync_to_async(staff_telegram_link)(code=code, telegram_user_id=update.effective_user.id)
    except DomainError as error:
        await update.effective_message.reply_text(error.message)
        return
    await update.effective_message.reply_text(
        f"Готово: Telegram привязан к сотруднику «{_person(user)}». "
        "Теперь вы можете подтверждать и отменять записи своего филиала кнопками."
    )


async def chat_id(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/chatid: the chat's id, to enter as the branch's managers' chat in admin."""
    await update.effective_message.reply_text(
        f"ID этого чата: {update.effective_chat.id}\n"
        "Укажите его в админке: Филиалы → филиал → «Telegram-чат менеджеров»."
    )


async def chat_migrated(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A group became a supergroup: a branch whose managers' chat it was follows it to the new id."""
    message = update.effective_message
    if message.migrate_to_chat_id:
        old_chat_id, new_chat_id = message.chat.id, message.migrate_to_chat_id
    else:
        old_chat_id, new_chat_id = message.migrate_from_chat_id, message.chat.id
    await sync_to_async(manager_chat_migrate)(old_chat_id=old_chat_id, new_chat_id=new_chat_id)


def handlers() -> list[BaseHandler]:
    """The notification handlers, for the bot's application factory to add (group 0)."""
    return [
        CallbackQueryHandler(manager_button, pattern=r"^nt:mgr:(confirm|cancel):(\d+)$"),
        CallbackQueryHandler(client_comes, pattern=r"^nt:come:(\d+)$"),
        CallbackQueryHandler(client_rates, pattern=r"^nt:rate:(\d+):([1-5])$"),
        CallbackQueryHandler(ads_offer, pattern=r"^nt:ads:ask$"),
        CallbackQueryHandler(ads_accept, pattern=r"^nt:ads:yes:(\w+)$"),
        CommandHandler("ads", ads_offer, filters=filters.ChatType.PRIVATE),
        CommandHandler("stop_ads", stop_ads),
        CommandHandler("link", link_staff, filters=filters.ChatType.PRIVATE),
        CommandHandler("chatid", chat_id),
        MessageHandler(filters.StatusUpdate.MIGRATE, chat_migrated),
    ]
