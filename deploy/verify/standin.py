"""VERIFICATION ONLY: Telegram's Bot API and an SMTP server, stood in for by one process in the
compose stack that deploy/verify-stack.sh runs, so the bot can start and the worker can deliver
notifications without reaching Telegram or a real mail server.

    python standin.py          serve: Bot API on :8081 (tests/botapi.py, token $STANDIN_TOKEN),
                               SMTP on :2525 (aiosmtpd), control on the Bot API port under /standin/
    python standin.py ping     exit 0 when the server answers (the container's healthcheck)
    python standin.py inbox    print what the bot and the worker sent, as JSON:
                               {"telegram": [{"chat_id", "text"}], "email": [{"to", "subject", "text"}]}
    python standin.py received [TEXT]
                               one line per message sent so far whose text holds TEXT:
                               "telegram CHAT_ID" or "email ADDRESS" (for the script to grep)
    python standin.py say USER_ID TEXT
                               a private message from USER_ID to the bot (e.g. /start), as Telegram
                               would deliver it through getUpdates

Everything is kept in memory: a restarted stand-in starts with an empty inbox, so whatever shows
up in it afterwards was delivered after the restart. Only fake data of the verification passes
through it; it prints methods and recipients, never message texts.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import urllib.request
from email import message_from_bytes
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler

from botapi import SEND_METHODS, BotApiServer  # tests/botapi.py, mounted beside this file

BOT_API_PORT = 8081
SMTP_PORT = 2525
CONTROL = f"http://127.0.0.1:{BOT_API_PORT}/standin"


class StandIn(BotApiServer):
    """The test Bot API server plus a control path and a record of e-mails."""

    def __init__(self, token: str) -> None:
        # Update ids go on from where a previous run of the stand-in left off, as Telegram's do:
        # the bot drops an update whose id it has already handled.
        super().__init__(token=token, host="0.0.0.0", port=BOT_API_PORT, first_update_id=int(time.time()))
        self.emails: list[dict] = []

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        if request.path.startswith("/standin/"):
            return self._control(request)
        super()._handle(request)
        method = request.path.rpartition("/")[2]
        if method in SEND_METHODS:
            print(f"standin: telegram {method}", flush=True)
        return None

    def _control(self, request: BaseHTTPRequestHandler) -> None:
        action = request.path.removeprefix("/standin/")
        if action == "ping":
            return self._reply(request, 200, {"ok": True})
        if action == "inbox":
            with self._lock:  # in the order they were sent
                telegram = [{"chat_id": m["chat"]["id"], "text": m.get("text", "")}
                            for m in self.state.messages.values() if m.get("_from_bot")]
                emails = list(self.emails)
            return self._reply(request, 200, {"telegram": telegram, "email": emails})
        if action == "say":
            params = self._decode(request)
            self.user_sends_text(int(params["user_id"]), str(params["text"]))
            return self._reply(request, 200, {"ok": True})
        return self._reply(request, 404, {"ok": False})

    # aiosmtpd handler: called for each message the worker hands over.
    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: ANN001, N802 (aiosmtpd API)
        message = message_from_bytes(envelope.content, policy=default_policy)
        body = message.get_body(preferencelist=("plain",))
        with self._lock:
            self.emails.append({
                "to": list(envelope.rcpt_tos), "subject": str(message["subject"] or ""),
                "text": body.get_content() if body is not None else "",
            })
        print(f"standin: e-mail to {len(envelope.rcpt_tos)} recipient(s)", flush=True)
        return "250 Message accepted"


def serve() -> None:
    from aiosmtpd.controller import Controller

    token = os.environ["STANDIN_TOKEN"]
    standin = StandIn(token).start()
    # hostname "": every interface, as the Bot API side (the stack reaches both by the service name).
    smtp = Controller(standin, hostname="", port=SMTP_PORT, server_hostname="standin")
    smtp.start()
    print(f"standin: Bot API on :{BOT_API_PORT}, SMTP on :{SMTP_PORT}", flush=True)
    threading.Event().wait()  # until the container stops (tini forwards SIGTERM)


def control(action: str, payload: dict | None = None) -> dict:
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(f"{CONTROL}/{action}", data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response)


def main(argv: list[str]) -> int:
    if not argv:
        serve()
        return 0
    if argv[0] == "ping":
        try:
            control("ping")
        except OSError:
            return 1
        return 0
    if argv[0] == "inbox":
        print(json.dumps(control("inbox"), ensure_ascii=False))
        return 0
    if argv[0] == "received" and len(argv) <= 2:
        needle = argv[1] if len(argv) == 2 else ""
        inbox = control("inbox")
        for message in inbox["telegram"]:
            if needle in message["text"]:
                print("telegram", message["chat_id"])
        for message in inbox["email"]:
            if needle in message["text"]:
                print("email", " ".join(message["to"]))
        return 0
    if argv[0] == "say" and len(argv) == 3:
        control("say", {"user_id": int(argv[1]), "text": argv[2]})
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
