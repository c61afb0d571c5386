"""A small local server speaking the Telegram Bot API methods our bot uses, for tests and benchmarks.

python-telegram-bot talks to it through its real HTTP client: point ``TELEGRAM_API_URL`` (PTB's
``base_url``) at ``server.base_url``. The server keeps a queue of updates for ``getUpdates``
(long polling), records every call the bot makes, keeps the messages it "sent" (so edits and
keyboards can be asserted), and can answer like Telegram does when things go wrong:
``429 Too Many Requests`` with ``retry_after`` and ``403 Forbidden: bot was blocked by the user``.
With ``enforce_limits=True`` it also answers 429 when the bot exceeds Telegram's limits
(30 messages/s per bot, 1/s per private chat, 20/min per group). ``hold_next`` keeps a call
in flight until released, to kill its sender meanwhile.

Nothing here reaches the network: it binds 127.0.0.1 on a free port (``host``/``port`` change
that, e.g. for deploy/verify/standin.py, which serves the compose stack from a container).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qsl

BOT_ID = 7000000001
SEND_METHODS = frozenset({"sendMessage", "sendDocument", "sendPhoto", "copyMessage", "forwardMessage"})


@dataclass
class Call:
    """One request the bot made: method name, decoded parameters, and when (monotonic seconds)."""

    method: str
    params: dict[str, Any]
    at: float
    status: int = 200


@dataclass
class Failure:
    """A scripted error for the next matching call(s)."""

    method: str | None
    chat_id: int | None
    error_code: int
    description: str
    retry_after: int | None = None
    times: int = 1


@dataclass
class Hold:
    """A call held in flight: ``reached`` is set when it arrives; it waits for ``release()``."""

    method: str | None
    chat_id: int | None
    reached: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)
    drop: bool = False
    taken: bool = False

    def release(self, *, drop: bool = False) -> None:
        """Let the call through; ``drop=True`` closes its connection unanswered and unprocessed."""
        self.drop = drop
        self.released.set()


@dataclass
class BotApiState:
    calls: list[Call] = field(default_factory=list)
    updates: list[dict] = field(default_factory=list)
    messages: dict[tuple[int, int], dict] = field(default_factory=dict)  # (chat_id, message_id) → message
    blocked_chats: set[int] = field(default_factory=set)
    migrated_chats: dict[int, int] = field(default_factory=dict)  # group id → its supergroup's id
    failures: list[Failure] = field(default_factory=list)
    holds: list[Hold] = field(default_factory=list)
    webhook_url: str = ""


class BotApiServer:
    """Start with ``start()`` (or as a context manager); ``base_url`` is what PTB's ``base_url`` takes."""

    def __init__(self, token: str = "123456:TEST-TOKEN", enforce_limits: bool = False, first_update_id: int = 1,
                 host: str = "127.0.0.1", port: int = 0) -> None:
        self.token = token
        self.host = host
        self.port = port
        self.enforce_limits = enforce_limits
        self.state = BotApiState()
        self._lock = threading.Condition()
        self._update_ids = itertools.count(first_update_id)
        self._message_ids: dict[int, itertools.count] = defaultdict(lambda: itertools.count(1))
        self._last_sent: dict[int, int] = {}  # chat → id of the newest message the bot sent there
        self._sent_times: deque[float] = deque()
        self._chat_times: dict[int, deque[float]] = defaultdict(deque)
        self.rejected_429 = 0
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------------
    def start(self) -> "BotApiServer":
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes; with Nagle's algorithm on, the second
            # waits for the client's delayed ACK (~40 ms) on every keep-alive request.
            disable_nagle_algorithm = True

            def do_POST(self) -> None:  # noqa: N802 (http.server API)
                server._handle(self)

            do_GET = do_POST  # noqa: N815

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                return

        self._httpd = ThreadingHTTPServer((self.host, self.port), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="botapi", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd:
            with self._lock:
                self._lock.notify_all()
                for hold in self.state.holds:
                    hold.released.set()
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> "BotApiServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """For PTB's ``base_url`` / our ``TELEGRAM_API_URL``: PTB appends ``<token>/<method>``."""
        assert self._httpd, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/bot"

    # --- what a user does ----------------------------------------------------------
    def push_update(self, update: dict) -> dict:
        with self._lock:
            update = {"update_id": next(self._update_ids), **update}
            self.state.updates.append(update)
            self._lock.notify_all()
        return update

    @staticmethod
    def user(user_id: int, first_name: str = "Тест", username: str | None = None) -> dict:
        user = {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "ru"}
        if username:
            user["username"] = username
        return user

    def _incoming_message(self, user_id: int, **content: Any) -> dict:
        chat = {"id": user_id, "type": "private", "first_name": "Тест"}
        with self._lock:
            message_id = next(self._message_ids[user_id])
        return {
            "message_id": message_id, "date": int(time.time()), "chat": chat, "from": self.user(user_id), **content,
        }

    def user_sends_text(self, user_id: int, text: str) -> dict:
        message: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return self.push_update({"message": self._incoming_message(user_id, **message)})

    def user_shares_contact(self, user_id: int, phone: str, contact_user_id: int | None = -1,
                            first_name: str = "Тест") -> dict:
        """``contact_user_id=-1`` (default) means the user's own contact; ``None`` means no user id."""
        contact: dict[str, Any] = {"phone_number": phone, "first_name": first_name}
        if contact_user_id == -1:
            contact["user_id"] = user_id
        elif contact_user_id is not None:
            contact["user_id"] = contact_user_id
        return self.push_update({"message": self._incoming_message(user_id, contact=contact)})

    def user_presses(self, user_id: int, data: str, message: dict | None = None) -> dict:
        """Press an inline button with ``data`` under ``message`` (the bot's last message to the user by default)."""
        message = message or self.last_message(user_id)
        assert message is not None, f"no message from the bot to {user_id}"
        query = {
            "id": str(next(self._update_ids) * 1000), "from": self.user(user_id), "chat_instance": str(user_id),
            "data": data, "message": message,
        }
        return self.push_update({"callback_query": query})

    def block_chat(self, chat_id: int) -> None:
        """From now on sends to ``chat_id`` answer 403 «bot was blocked by the user»."""
        with self._lock:
            self.state.blocked_chats.add(chat_id)

    def upgrade_to_supergroup(self, chat_id: int, new_chat_id: int, by_user_id: int = 1) -> list[dict]:
        """The group ``chat_id`` became the supergroup ``new_chat_id``, as Telegram does it.

        From now on sends to the old id answer 400 «group chat was upgraded to a supergroup
        chat» with ``parameters.migrate_to_chat_id``. Returns the two service-message updates
        the bot receives: ``migrate_to_chat_id`` in the old chat, ``migrate_from_chat_id`` in the new.
        """
        with self._lock:
            self.state.migrated_chats[chat_id] = new_chat_id
        old = {"id": chat_id, "type": "group", "title": "Менеджеры"}
        new = {"id": new_chat_id, "type": "supergroup", "title": "Менеджеры"}
        return [
            self.push_update({"message": {"message_id": 1000, "date": int(time.time()), "chat": old,
                                          "from": self.user(by_user_id), "migrate_to_chat_id": new_chat_id}}),
            self.push_update({"message": {"message_id": 1, "date": int(time.time()), "chat": new,
                                          "from": self.user(by_user_id), "migrate_from_chat_id": chat_id}}),
        ]

    def fail_next(self, method: str | None = None, *, chat_id: int | None = None, error_code: int = 429,
                  description: str = "Too Many Requests: retry after 1", retry_after: int | None = 1,
                  times: int = 1) -> None:
        with self._lock:
            self.state.failures.append(Failure(method, chat_id, error_code, description, retry_after, times))

    def hold_next(self, method: str | None = None, *, chat_id: int | None = None) -> Hold:
        """Hold the next matching call in flight until ``hold.release()`` (e.g. to kill the sender meanwhile)."""
        hold = Hold(method, chat_id)
        with self._lock:
            self.state.holds.append(hold)
        return hold

    # --- what the bot did ----------------------------------------------------------
    def calls(self, method: str | None = None) -> list[Call]:
        with self._lock:
            return [c for c in self.state.calls if method is None or c.method == method]

    def sent_to(self, chat_id: int) -> list[dict]:
        """Messages the bot sent (and that still exist) in ``chat_id``, oldest first."""
        with self._lock:
            return [m for (chat, _), m in sorted(self.state.messages.items()) if chat == chat_id and m.get("_from_bot")]

    def last_message(self, chat_id: int) -> dict | None:
        """The newest message the bot sent to ``chat_id`` (as edited since), or ``None``."""
        with self._lock:
            newest = self.state.messages.get((chat_id, self._last_sent.get(chat_id, 0)))
        if newest is not None:
            return newest
        sent = self.sent_to(chat_id)  # the newest was deleted: the newest that is left
        return sent[-1] if sent else None

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Wait until ``predicate()`` is truthy and return its value; fail with a clear message otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.01)
        raise AssertionError(f"timed out after {timeout}s; calls so far: {[c.method for c in self.calls()]}")

    def wait_for_calls(self, method: str, count: int, timeout: float = 10.0) -> list[Call]:
        return self.wait_for(lambda: (found := self.calls(method)) and len(found) >= count and found, timeout)

    def pending_updates(self) -> int:
        with self._lock:
            return len(self.state.updates)

    # --- the server side ---------------------------------------------------------------
    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        prefix = f"/bot{self.token}/"
        if not request.path.startswith(prefix):
            return self._reply(request, 404, {"ok": False, "error_code": 404, "description": "Not Found"})
        method = request.path[len(prefix):]
        params = self._decode(request)
        hold = self._take_hold(method, self._chat_id(params))
        if hold is not None:
            hold.reached.set()
            hold.released.wait(timeout=60)
            if hold.drop:
                with self._lock:
                    self.state.calls.append(Call(method, params, time.monotonic(), 0))
                request.close_connection = True
                return None
        status, payload = self._dispatch(method, params)
        with self._lock:
            self.state.calls.append(Call(method, params, time.monotonic(), status))
        self._reply(request, status, payload)

    @staticmethod
    def _decode(request: BaseHTTPRequestHandler) -> dict[str, Any]:
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        ctype = request.headers.get("Content-Type", "")
        if ctype.startswith("application/json"):
            raw = json.loads(body or b"{}")
        elif ctype.startswith("multipart/form-data"):
            message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {ctype}\r\n\r\n".encode() + body)
            raw = {}
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                if part.get_filename():
                    raw[name] = {"filename": part.get_filename(), "size": len(part.get_payload(decode=True) or b"")}
                else:  # a form field: UTF-8, whatever charset the parser would assume
                    raw[name] = (part.get_payload(decode=True) or b"").decode()
        else:
            raw = dict(parse_qsl(body.decode()))
        # PTB sends nested objects (reply_markup, entities) as JSON strings.
        params: dict[str, Any] = {}
        for key, value in raw.items():
            if isinstance(value, str) and value[:1] in "[{":
                try:
                    value = json.loads(value)
                except ValueError:
                    pass
            params[key] = value
        return params

    @staticmethod
    def _reply(request: BaseHTTPRequestHandler, status: int, payload: dict) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        try:
            request.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a long poll cut short when the bot stops)

    @staticmethod
    def _error(code: int, description: str, retry_after: int | None = None) -> tuple[int, dict]:
        payload: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
        if retry_after is not None:
            payload["parameters"] = {"retry_after": retry_after}
        return code, payload

    @staticmethod
    def _chat_id(params: dict[str, Any]) -> int | None:
        chat_id = params.get("chat_id")
        return int(chat_id) if isinstance(chat_id, (int, str)) and str(chat_id).lstrip("-").isdigit() else None

    def _take_hold(self, method: str, chat_id: int | None) -> Hold | None:
        with self._lock:
            for hold in self.state.holds:
                if not hold.taken and hold.method in (None, method) and hold.chat_id in (None, chat_id):
                    hold.taken = True
                    return hold
        return None

    def _scripted_failure(self, method: str, chat_id: int | None) -> tuple[int, dict] | None:
        for failure in self.state.failures:
            if failure.times > 0 and failure.method in (None, method) and failure.chat_id in (None, chat_id):
                failure.times -= 1
                if failure.error_code == 429:
                    self.rejected_429 += 1
                return self._error(failure.error_code, failure.description, failure.retry_after)
        return None

    def _over_limits(self, chat_id: int) -> bool:
        """Telegram's documented limits, counted over sliding windows."""
        now = time.monotonic()
        while self._sent_times and now - self._sent_times[0] >= 1.0:
            self._sent_times.popleft()
        chat_window = 60.0 if chat_id < 0 else 1.0
        chat_limit = 20 if chat_id < 0 else 1
        times = self._chat_times[chat_id]
        while times and now - times[0] >= chat_window:
            times.popleft()
        if len(self._sent_times) >= 30 or len(times) >= chat_limit:
            return True
        self._sent_times.append(now)
        times.append(now)
        return False

    def _dispatch(self, method: str, params: dict[str, Any]) -> tuple[int, dict]:
        chat_id = self._chat_id(params)
        with self._lock:
            failure = self._scripted_failure(method, chat_id)
            if failure:
                return failure
            if method in SEND_METHODS and chat_id in self.state.blocked_chats:
                return self._error(403, "Forbidden: bot was blocked by the user")
            if method in SEND_METHODS and chat_id in self.state.migrated_chats:
                code, payload = self._error(400, "Bad Request: group chat was upgraded to a supergroup chat")
                payload["parameters"] = {"migrate_to_chat_id": self.state.migrated_chats[chat_id]}
                return code, payload
            if method in SEND_METHODS and self.enforce_limits and chat_id is not None and self._over_limits(chat_id):
                self.rejected_429 += 1
                return self._error(429, "Too Many Requests: retry after 1", 1)
        if method == "getUpdates":
            return 200, {"ok": True, "result": self._get_updates(params)}
        handler = getattr(self, f"_m_{method}", None)
        result = handler(params) if handler else True
        if isinstance(result, tuple):
            return result
        return 200, {"ok": True, "result": result}

    def _get_updates(self, params: dict[str, Any]) -> list[dict]:
        offset = int(params.get("offset") or 0)
        timeout = min(float(params.get("timeout") or 0), 2.0)  # short polls keep tests snappy
        deadline = time.monotonic() + timeout
        with self._lock:
            # Telegram forgets updates below the offset: the bot confirmed them.
            self.state.updates = [u for u in self.state.updates if u["update_id"] >= offset]
            while not self.state.updates and time.monotonic() < deadline and self._httpd:
                self._lock.wait(timeout=max(0.0, deadline - time.monotonic()))
            limit = int(params.get("limit") or 100)
            return list(self.state.updates[:limit])

    # --- methods -----------------------------------------------------------------------
    def _m_getMe(self, params: dict) -> dict:  # noqa: N802
        return {"id": BOT_ID, "is_bot": True, "first_name": "СТО Запись", "username": "sto_test_bot",
                "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False}

    def _new_message(self, chat_id: int, **content: Any) -> dict:
        with self._lock:
            message_id = next(self._message_ids[chat_id])
            chat = {"id": chat_id, "type": "private" if chat_id > 0 else "group", "first_name": "Тест"}
            message = {"message_id": message_id, "date": int(time.time()), "chat": chat,
                       "from": self._m_getMe({}), **content, "_from_bot": True}
            self.state.messages[(chat_id, message_id)] = message
            self._last_sent[chat_id] = message_id
        return {k: v for k, v in message.items() if not k.startswith("_")}

    def _m_sendMessage(self, params: dict) -> dict | tuple:  # noqa: N802
        text = str(params.get("text", ""))
        if not text.strip():
            return self._error(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            return self._error(400, "Bad Request: message is too long")
        content: dict[str, Any] = {"text": text}
        markup = params.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            content["reply_markup"] = markup
        elif markup:
            # Telegram returns only inline keyboards with a message; a reply keyboard (or its
            # removal) is kept aside for tests to assert on.
            content["_reply_keyboard"] = markup
        if params.get("parse_mode"):
            content["_parse_mode"] = params["parse_mode"]
        return self._new_message(int(params["chat_id"]), **content)

    def _m_sendDocument(self, params: dict) -> dict:  # noqa: N802
        upload = params.get("document")
        document = {"file_id": f"doc{len(self.state.calls)}", "file_unique_id": f"u{len(self.state.calls)}"}
        if isinstance(upload, dict):  # an uploaded file (a file_id or URL would be a string)
            document |= {"file_name": upload["filename"], "file_size": upload["size"]}
        return self._new_message(int(params["chat_id"]), document=document, caption=params.get("caption", ""))

    def _edit(self, params: dict, **changes: Any) -> dict | tuple:
        key = (int(params["chat_id"]), int(params["message_id"]))
        with self._lock:
            message = self.state.messages.get(key)
            if message is None:
                return self._error(400, "Bad Request: message to edit not found")
            new = {**message, **changes}
            if "reply_markup" not in params:
                new.pop("reply_markup", None)
            else:
                new["reply_markup"] = params["reply_markup"]
            if {k: v for k, v in new.items() if k != "date"} == {k: v for k, v in message.items() if k != "date"}:
                return self._error(400, "Bad Request: message is not modified")
            self.state.messages[key] = new
        return {k: v for k, v in new.items() if not k.startswith("_")}

    def _m_editMessageText(self, params: dict) -> dict | tuple:  # noqa: N802
        return self._edit(params, text=str(params.get("text", "")))

    def _m_editMessageReplyMarkup(self, params: dict) -> dict | tuple:  # noqa: N802
        return self._edit(params)

    def _m_deleteMessage(self, params: dict) -> bool:  # noqa: N802
        with self._lock:
            self.state.messages.pop((int(params["chat_id"]), int(params["message_id"])), None)
        return True

    def _m_answerCallbackQuery(self, params: dict) -> bool:  # noqa: N802
        return True

    def _m_setWebhook(self, params: dict) -> bool:  # noqa: N802
        self.state.webhook_url = str(params.get("url", ""))
        return True

    def _m_deleteWebhook(self, params: dict) -> bool:  # noqa: N802
        self.state.webhook_url = ""
        return True

    def _m_getWebhookInfo(self, params: dict) -> dict:  # noqa: N802
        return {"url": self.state.webhook_url, "has_custom_certificate": False, "pending_update_count": 0}
