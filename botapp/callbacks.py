"""Callback data of the bot's buttons: how it is written and how it is read back.

Telegram returns whatever a button carried, and a client can send any string as
callback data, so nothing read here is trusted: ``parse`` only checks the shape, and the
handlers check in the database what the data refers to.

Shapes (all ASCII, at most 64 bytes):

* ``s:<step>:<action>[:<arg>]`` — a button of the booking conversation, drawn for
  screen number ``step`` of the user's ``BotSession``; a different step means stale.
* ``bk:<action>:<booking_id>`` — an action on one booking (``cancel``, ``resched`` are
  the contract with the notification worker, which puts them on reminders; ``cancelok``
  and ``keep`` answer the «cancel?» question). Valid from any message.
* ``consent:<version>`` — «I agree» under a consent text.
* ``menu:<item>`` — the main menu (``book``, ``my``, ``help``).
* ``noop`` — a calendar cell or a label; answered and otherwise ignored.
"""

import re
from dataclasses import dataclass

_STEP = re.compile(r"^s:(\d{1,9}):([a-z]{1,10})(?::([0-9a-z]{1,16}))?$")
_BOOKING = re.compile(r"^bk:(cancel|resched|cancelok|keep):(\d{1,18})$")
_CONSENT = re.compile(r"^consent:([0-9A-Za-z.\-]{1,16})$")
_MENU = re.compile(r"^menu:(book|my|help)$")

BOOKING_PATTERN = r"^bk:"


@dataclass(frozen=True)
class Button:
    """Parsed callback data; ``kind`` is ``step``, ``booking``, ``consent``, ``menu`` or ``noop``."""

    kind: str
    action: str = ""
    arg: str = ""
    step: int = -1
    booking_id: int = 0


def parse(data: str | None) -> Button | None:
    """The button ``data`` describes, or ``None`` for anything that is not one of ours."""
    data = data or ""
    if data == "noop":
        return Button("noop")
    if match := _STEP.match(data):
        return Button("step", action=match[2], arg=match[3] or "", step=int(match[1]))
    if match := _BOOKING.match(data):
        return Button("booking", action=match[1], booking_id=int(match[2]))
    if match := _CONSENT.match(data):
        return Button("consent", arg=match[1])
    if match := _MENU.match(data):
        return Button("menu", action=match[1])
    return None


def step(step_no: int, action: str, arg: str | int = "") -> str:
    return f"s:{step_no}:{action}:{arg}" if arg != "" else f"s:{step_no}:{action}"


def booking(action: str, booking_id: int) -> str:
    return f"bk:{action}:{booking_id}"


def consent(version: str) -> str:
    return f"consent:{version}"


def menu(item: str) -> str:
    return f"menu:{item}"


NOOP = "noop"
