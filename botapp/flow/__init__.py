"""The conversation, as synchronous entry points the PTB handlers call through ``sync_to_async``.

Each entry point reads the sender's session, runs one step, writes the session back
and returns a ``Reply``. A domain error a step did not handle leaves the flow with its
message and the menu; nothing the step wrote survives it (every multi-row write is
atomic). «Подтвердить» runs in a transaction holding the session row, so two taps —
even served by two bot processes — book once.
"""

from contextlib import nullcontext

from django.db import transaction

from botapp import callbacks, keyboards
from botapp.flow import booking, mine, start
from botapp.flow.core import BACK, BUTTONS, SCREENS, TEXTS, Out, Reply, TgUser, Turn, session_load, session_reset, session_save
from botapp.texts import render
from clients.services import client_mark_telegram_blocked, client_mark_telegram_reachable
from workshops.errors import DomainError

__all__ = [
    "Out", "Reply", "TgUser", "handle_button", "handle_command", "handle_contact", "handle_membership", "handle_other",
    "handle_text",
]

# Steps that must see the session as it is in the database and keep others out until done.
LOCKED_ACTIONS = frozenset({"ok"})


def _run(user: TgUser, step, *args, message_id: int | None = None, lock: bool = False) -> Reply:  # noqa: ANN001
    with transaction.atomic() if lock else nullcontext():
        session, marked_blocked = session_load(user.id, for_update=lock)
        if marked_blocked:
            # They write to the bot, so it is not blocked (any more): confirmations and reminders reach them again.
            client_mark_telegram_reachable(telegram_user_id=user.id)
        turn = Turn(user, session, message_id)
        try:
            reply = step(turn, *args)
        except DomainError as exc:
            session_reset(turn)
            reply = Reply([Out(render("refused", error=exc.message), keyboards.menu())], answer=render("answer_sorry"))
        session_save(turn.session)
    return reply


# --- commands -------------------------------------------------------------------------
COMMANDS = {
    "start": start.start,
    "cancel": start.leave,
    "help": start.help_reply,
    "my": mine.my_bookings,
    "withdraw": start.withdraw_question,
}


def handle_command(user: TgUser, name: str) -> Reply:
    """/start, /cancel, /help, /my, /withdraw."""
    return _run(user, COMMANDS[name])


# --- messages ---------------------------------------------------------------------------
def handle_text(user: TgUser, text: str) -> Reply:
    """Typed text goes to the current step; steps that want a button say so and show it again."""
    return _run(user, _text, text)


def _text(turn: Turn, text: str) -> Reply:
    state = turn.session.state
    if state in TEXTS:
        return TEXTS[state](turn, text)
    if state == "consent":
        return Reply([Out(render("consent_press_button"))])
    if state in SCREENS:
        return Reply([Out(render("use_buttons")), *SCREENS[state](turn)])
    return Reply([Out(render("unknown"), keyboards.menu())])


def handle_contact(user: TgUser, *, phone: str, contact_user_id: int | None) -> Reply:
    """A shared contact (only the sender's own is accepted)."""
    return _run(user, lambda turn: start.contact_shared(turn, phone=phone, contact_user_id=contact_user_id))


def handle_other(user: TgUser) -> Reply:
    """A photo, sticker, voice… — the bot reads text and buttons only."""
    return Reply([Out(render("not_text"))])


def handle_membership(user: TgUser, *, blocked: bool) -> None:
    """The user blocked the bot (Telegram says «kicked») or unblocked it: mark their client so (no reply)."""
    if blocked:
        client_mark_telegram_blocked(telegram_user_id=user.id)
    else:
        client_mark_telegram_reachable(telegram_user_id=user.id)


# --- buttons ----------------------------------------------------------------------------
def handle_button(user: TgUser, data: str, message_id: int | None) -> Reply:
    """A pressed inline button: parsed, checked against the session, then its step."""
    button = callbacks.parse(data)
    if button is None:
        return Reply(answer=render("answer_stale"))
    if button.kind == "noop":
        return Reply(answer=render("answer_noop"))
    lock = button.kind == "step" and button.action in LOCKED_ACTIONS
    return _run(user, _button, button, message_id=message_id, lock=lock)


def _button(turn: Turn, button: callbacks.Button) -> Reply:
    if button.kind == "consent":
        return start.consent_pressed(turn, button.arg)
    if button.kind == "booking":
        return mine.booking_button(turn, button)
    if button.kind == "menu":
        return MENU[button.action](turn)
    return _step_button(turn, button)


MENU = {"book": booking.book, "my": mine.my_bookings, "help": start.help_reply}


def _step_button(turn: Turn, button: callbacks.Button) -> Reply:
    """A button of the booking conversation: only the current screen's, only with an offered arg."""
    session = turn.session
    if button.step != session.step:
        return _outdated_confirm(turn, button) if button.action in LOCKED_ACTIONS else Reply(answer=render("answer_stale"))
    if button.action == "back" and session.state in BACK:
        return BACK[session.state](turn)
    entry = BUTTONS.get((session.state, button.action))
    if entry is None:
        return Reply(answer=render("answer_stale"))
    step, needs_option = entry
    if needs_option and button.arg not in session.data.get("opts", []):
        return Reply(answer=render("answer_stale"))
    return step(turn, button.arg)


def _outdated_confirm(turn: Turn, button: callbacks.Button) -> Reply:
    """«Подтвердить» / «Перенести» of a summary that is not the current screen.

    «Done» only for the summary whose press really booked (a second tap); any other old
    summary booked nothing, so the client is told so and sees where they are now.
    """
    if button.step == turn.data.get("done_step"):
        return Reply(answer=render("answer_done"))
    state = turn.session.state
    if state in SCREENS:
        current = SCREENS[state](turn)
    elif not state:
        current = [Out(render("menu"), keyboards.menu())]
    else:
        current = []
    notice = Out(render("outdated_confirm", current=bool(current)))
    return Reply([notice, *current], answer=render("answer_outdated_confirm"), strip_pressed=True)
