"""The conversation's plumbing: what a step returns, the session row, and the registry of steps.

The conversation is plain synchronous Django code: each entry point reads the user's
``BotSession``, does the step's database work, writes the session back and returns a
``Reply`` — what to show. The PTB handlers (``botapp.handlers``) only carry updates in
and replies out, so one update costs one trip to the database thread.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.utils import timezone
from telegram import InlineKeyboardMarkup, ReplyKeyboardMarkup, ReplyKeyboardRemove

from botapp.models import BotSession
from clients.models import Client

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | None


@dataclass(frozen=True)
class TgUser:
    """Who sent the update, as Telegram says (never taken from callback data)."""

    id: int
    first_name: str = ""
    username: str = ""


@dataclass
class Out:
    """One message to show: plain text and an optional keyboard."""

    text: str
    markup: Markup = None

    @property
    def editable(self) -> bool:
        """Whether this message can replace a pressed message (edits take only inline keyboards)."""
        return self.markup is None or isinstance(self.markup, InlineKeyboardMarkup)


@dataclass
class Reply:
    """What the bot answers to one update.

    For a button press the pressed message is replaced by the first message when
    ``in_place`` and it is editable (the rest are sent); with ``strip_pressed`` the
    pressed message keeps its text, loses its keyboard, and all messages are sent.
    ``answer`` is the short notice on the pressed button (every press is answered).
    """

    messages: list[Out] = field(default_factory=list)
    answer: str = ""
    alert: bool = False
    in_place: bool = True
    strip_pressed: bool = False


@dataclass
class Turn:
    """One update being handled: who sent it, their session, and the pressed message (for a button)."""

    user: TgUser
    session: BotSession
    message_id: int | None = None

    @property
    def data(self) -> dict[str, Any]:
        return self.session.data


# --- the session row -----------------------------------------------------------------
# Read and written on every update, so in plain SQL: the ORM would double the cost of
# the two statements every update pays. Portable: PostgreSQL, and SQLite for the demo.
_TABLE = BotSession._meta.db_table
# The same statement tells whether this person's client is marked «blocked the bot», so a
# person who is back is unmarked without a statement on every update (a write only when set).
_LOAD = (
    f"SELECT state, step, data, EXISTS (SELECT 1 FROM {Client._meta.db_table} "
    "WHERE telegram_user_id = %s AND telegram_blocked_at IS NOT NULL) "
    f"FROM {_TABLE} WHERE telegram_user_id = %s"
)
_SAVE = (
    f"INSERT INTO {_TABLE} (telegram_user_id, state, step, data, updated_at) VALUES (%s, %s, %s, %s, %s) "
    "ON CONFLICT (telegram_user_id) DO UPDATE "
    "SET state = EXCLUDED.state, step = EXCLUDED.step, data = EXCLUDED.data, updated_at = EXCLUDED.updated_at"
)


def session_load(user_id: int, *, for_update: bool = False) -> tuple[BotSession, bool]:
    """The user's session (a fresh, unsaved one for a first-time user), and whether their client may be
    marked «blocked the bot» (always ``True`` for a first-time user: not looked up). One query."""
    with connection.cursor() as cursor:
        lock = " FOR UPDATE" if for_update and connection.features.has_select_for_update else ""
        cursor.execute(_LOAD + lock, [user_id, user_id])
        row = cursor.fetchone()
    if row is None:
        return BotSession(telegram_user_id=user_id, data={}), True
    state, step, data, marked_blocked = row
    data = json.loads(data) if isinstance(data, str) else data
    return BotSession(telegram_user_id=user_id, state=state, step=step, data=data), bool(marked_blocked)


def session_save(session: BotSession) -> None:
    """Write the session back whether or not it existed (one upsert)."""
    with connection.cursor() as cursor:
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        cursor.execute(_SAVE, [session.telegram_user_id, session.state, session.step, json.dumps(session.data), now])


# Kept when a flow ends: the client link, and which summary's «Подтвердить» last did its work
# (so a second tap on that very button is told «done», and any other old one is not).
KEPT_KEYS = ("client_id", "done_step")


def session_clear(session: BotSession) -> None:
    """No step, choices forgotten (``KEPT_KEYS`` are kept); buttons drawn before are stale."""
    session.state = ""
    session.step += 1
    session.data = {key: session.data[key] for key in KEPT_KEYS if key in session.data}


def session_reset(turn: "Turn") -> None:
    """Leave any flow."""
    session_clear(turn.session)


def enter(turn: "Turn", state: str, options: list[Any] | None = None) -> int:
    """Move to ``state`` with a new screen number; ``options`` are the args its buttons may carry."""
    session = turn.session
    session.state = state
    session.step += 1
    session.data["opts"] = [str(option) for option in options or []]
    return session.step


# --- the registry of steps -------------------------------------------------------------
Screen = Callable[[Turn], list[Out]]
ButtonStep = Callable[[Turn, str], Reply]
TextStep = Callable[[Turn, str], Reply]
BackStep = Callable[[Turn], Reply]

SCREENS: dict[str, Screen] = {}
BUTTONS: dict[tuple[str, str], tuple[ButtonStep, bool]] = {}
TEXTS: dict[str, TextStep] = {}
BACK: dict[str, BackStep] = {}


def screen(state: str) -> Callable[[Screen], Screen]:
    """Register the function that enters ``state`` and draws its screen."""
    def register(func: Screen) -> Screen:
        SCREENS[state] = func
        return func
    return register


def on_button(state: str, action: str, *, option: bool = True) -> Callable[[ButtonStep], ButtonStep]:
    """Register a button of ``state``; with ``option`` its arg must be one the screen offered."""
    def register(func: ButtonStep) -> ButtonStep:
        BUTTONS[(state, action)] = (func, option)
        return func
    return register


def on_text(state: str) -> Callable[[TextStep], TextStep]:
    def register(func: TextStep) -> TextStep:
        TEXTS[state] = func
        return func
    return register


def on_back(state: str) -> Callable[[BackStep], BackStep]:
    """Register where «Назад» leads from ``state``."""
    def register(func: BackStep) -> BackStep:
        BACK[state] = func
        return func
    return register


def show(turn: Turn, state: str, *before: Out, answer: str = "", in_place: bool = True) -> Reply:
    """Enter ``state`` and reply with its screen, optionally after some messages."""
    return Reply([*before, *SCREENS[state](turn)], answer=answer, in_place=in_place)
