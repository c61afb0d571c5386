"""Keyboards of the bot. Labels come from the data; callback data from ``botapp.callbacks``."""

from collections.abc import Iterable, Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, KeyboardButton, ReplyKeyboardMarkup, ReplyKeyboardRemove

from botapp import callbacks

BACK = "« Назад"
SHARE_CONTACT = "📱 Поделиться номером"
LABEL_LIMIT = 60


def _label(text: str) -> str:
    return text if len(text) <= LABEL_LIMIT else text[: LABEL_LIMIT - 1] + "…"


def button(text: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(_label(text), callback_data=data)


def inline(rows: Iterable[Sequence[InlineKeyboardButton]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([list(row) for row in rows if row])


def choices(step: int, action: str, options: Iterable[tuple[str, str | int]], *, per_row: int = 1,
            extra: Sequence[InlineKeyboardButton] = (), back: bool = True) -> InlineKeyboardMarkup:
    """One button per option (``label``, ``arg``), ``per_row`` in a row, then ``extra`` rows, then «Назад»."""
    buttons = [button(label, callbacks.step(step, action, arg)) for label, arg in options]
    rows = [buttons[i:i + per_row] for i in range(0, len(buttons), per_row)]
    rows += [[extra_button] for extra_button in extra]
    if back:
        rows.append([back_button(step)])
    return inline(rows)


def back_button(step: int) -> InlineKeyboardButton:
    return button(BACK, callbacks.step(step, "back"))


def only_back(step: int, *extra: InlineKeyboardButton) -> InlineKeyboardMarkup:
    return inline([[b] for b in extra] + [[back_button(step)]])


def contact_request() -> ReplyKeyboardMarkup:
    """The «share my number» keyboard; Telegram sends the user's own contact when it is pressed."""
    return ReplyKeyboardMarkup(
        [[KeyboardButton(SHARE_CONTACT, request_contact=True)], [KeyboardButton(BACK)]],
        resize_keyboard=True, one_time_keyboard=True,
    )


def remove() -> ReplyKeyboardRemove:
    return ReplyKeyboardRemove()


def menu() -> InlineKeyboardMarkup:
    return inline([
        [button("🗓 Записаться", callbacks.menu("book"))],
        [button("📋 Мои записи", callbacks.menu("my")), button("❓ Помощь", callbacks.menu("help"))],
    ])


def consent(version: str) -> InlineKeyboardMarkup:
    return inline([[button("✅ Согласен", callbacks.consent(version))]])


def booking_actions(booking_id: int, *, reschedule: bool = True) -> InlineKeyboardMarkup:
    row = [button("Отменить запись", callbacks.booking("cancel", booking_id))]
    if reschedule:
        row.append(button("Перенести", callbacks.booking("resched", booking_id)))
    return inline([row])


def cancel_question(booking_id: int) -> InlineKeyboardMarkup:
    return inline([[
        button("Да, отменить", callbacks.booking("cancelok", booking_id)),
        button("Нет, оставить", callbacks.booking("keep", booking_id)),
    ]])


def noop(text: str) -> InlineKeyboardButton:
    return button(text, callbacks.NOOP)
