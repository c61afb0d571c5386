"""The bot under load: the full booking conversation for many simulated users, through the local Bot API server.

Every simulated user walks the whole path — /start, consent, contact, (name), service,
car (theirs, or a new one: plate, make/model), day, time, no comment, «Подтвердить» —
half of them as new clients, half as clients already in the base with a car. The bot is
the production application (``build_application``) polling the local Bot API server
(``tests/botapi.py``) over HTTP. The server and the simulated users run in a separate
process, as Telegram would be elsewhere: each user sends their next update as soon as the
bot has answered the previous one, chosen from what the bot last showed them.

Three runs: ``BENCH_BOT_ALONE_USERS`` (40) users one update at a time give the p95 time to
handle one update (from the moment the bot starts on it until its replies are sent);
``BENCH_BOT_USERS`` (200) users at once, up to ``BENCH_BOT_CONCURRENCY`` (8) updates in
flight, give the updates handled per second and the SQL queries per update (all queries
of the run ÷ all updates); then as many other users at once against
``BENCH_BOT_WEBHOOK_PROCESSES`` (2; 0 skips the run) bot processes in webhook mode, each
user's updates POSTed to one of them (as a reverse proxy routing by user would), each
process with its own database threads and the shared Redis gate. Each bot process keeps its
threads on one CPU as ``runbot`` does (``TELEGRAM_BOT_CPU``, ``botapp/cpu.py``). Run alone with
``python -m benchmarks.bench_bot``; it uses the database ``BENCH_DATABASE_URL`` (default
``postgres://postgres@127.0.0.1:5432/sto_bench_bot``), creating and migrating it.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import random
import threading
import time
from collections import Counter, defaultdict
from datetime import time as clock
from typing import Any

USERS = int(os.environ.get("BENCH_BOT_USERS", "200"))
ONE_AT_A_TIME_USERS = int(os.environ.get("BENCH_BOT_ALONE_USERS", "40"))
CONCURRENCY = int(os.environ.get("BENCH_BOT_CONCURRENCY", "8"))
WEBHOOK_PROCESSES = int(os.environ.get("BENCH_BOT_WEBHOOK_PROCESSES", "2"))
WEBHOOK_SECRET = "bench-webhook-secret"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/sto_bench_bot"

_current_step: contextvars.ContextVar[str] = contextvars.ContextVar("bench_step", default="other")


# --- database ---------------------------------------------------------------------------
def setup_django() -> None:
    """The shared benchmark runner's database helper when present; otherwise our own database, created and migrated."""
    try:
        from benchmarks import _db
    except ImportError:
        _db = None
    if _db is not None and "BENCH_DATABASE_URL" not in os.environ:
        _db.setup_django("bot")
        return
    from urllib.parse import urlsplit, urlunsplit

    import django
    import psycopg
    from psycopg import sql

    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    parts = urlsplit(url)
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        name = parts.path.lstrip("/")
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.test_settings")
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def truncate(*app_labels: str) -> None:
    from django.apps import apps
    from django.db import connection

    tables = [model._meta.db_table for label in app_labels
              for model in apps.get_app_config(label).get_models(include_auto_created=True)]
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(connection.ops.quote_name(t) for t in tables)} RESTART IDENTITY CASCADE")


def make_shop(user_base: int, users: int) -> dict[int, str]:
    """A company, a branch open every day 08:00–22:00 with 6 lifts, one service; half the users already in the base."""
    from clients.models import Client, ClientPhone, Vehicle
    from workshops.models import Bay, BayKind, Company, Service, WorkingHours, Workshop

    Company.objects.create(name="ООО «Бенчмарк»", legal_address="г. Москва, ул. Тестовая, 1")
    shop = Workshop.objects.create(name="СТО Бенчмарк", slug="bench-bot", address="ул. Нагрузочная, 7")
    WorkingHours.objects.bulk_create(
        [WorkingHours(workshop=shop, weekday=day, opens_at=clock(8), closes_at=clock(22)) for day in range(7)]
    )
    Bay.objects.bulk_create([Bay(workshop=shop, name=f"Подъёмник {n}", kind=BayKind.LIFT) for n in range(6)])
    Service.objects.create(name="Замена масла", duration_minutes=60, price_from=1500, bay_kind=BayKind.LIFT).workshops.add(shop)
    phones = {user_base + i: f"+7916{2000000 + i:07d}" for i in range(users)}
    known = [user_id for i, user_id in enumerate(phones) if i % 2]
    clients = Client.objects.bulk_create([Client(name=f"Клиент {user_id}") for user_id in known])
    ClientPhone.objects.bulk_create([ClientPhone(client=c, number=phones[u]) for c, u in zip(clients, known)])
    Vehicle.objects.bulk_create([
        Vehicle(client=c, make="Lada", model="Vesta", plate=f"А{n % 1000:03d}ВС{77 + n // 1000}")
        for n, c in enumerate(clients)
    ])
    return phones


# --- the simulated users -------------------------------------------------------------------
def buttons(message: dict) -> list[dict]:
    return [b for row in (message.get("reply_markup") or {}).get("inline_keyboard", []) for b in row]


def press(server, user_id: int, message: dict, *, label: str = "", action: str = "", index: int = 0) -> None:
    matching = [b for b in buttons(message)
                if (label and b["text"].startswith(label)) or (action and f":{action}:" in b["callback_data"])]
    chosen = matching[index % len(matching)]
    server.user_presses(user_id, chosen["callback_data"], message=message)


def act(server, user_id: int, n: int, phone: str) -> bool | None:
    """Send the update a person would send next, judging by the bot's last message.

    ``True`` when sent, ``False`` when the user is booked, ``None`` when the bot's answer
    is not complete yet (an intermediate message, or a screen without its keyboard).
    """
    last = server.last_message(user_id)
    if last is None:
        server.user_sends_text(user_id, "/start")
        return True
    text, keyboard = last.get("text", ""), buttons(last)
    reply_keyboard = last.get("_reply_keyboard", {})
    if text.startswith("✅ Вы записаны"):
        return False
    if text.startswith("СОГЛАСИЕ") and keyboard:
        press(server, user_id, last, label="✅ Согласен")
    elif "keyboard" in reply_keyboard:
        server.user_shares_contact(user_id, phone.lstrip("+"))
    elif text.startswith("Как к вам обращаться"):
        server.user_sends_text(user_id, f"Пользователь {n}")
    elif text.startswith("Выберите услугу") and keyboard:
        press(server, user_id, last, label="Замена масла")
    elif "На каком автомобиле" in text and keyboard:
        press(server, user_id, last, action="car")
    elif text.startswith("Напишите госномер"):
        server.user_sends_text(user_id, f"В{n % 1000:03d}ОР{77 + n // 1000}")
    elif "Марка и модель" in text:
        server.user_sends_text(user_id, "Kia Rio")
    elif "Выберите день" in text and keyboard:
        press(server, user_id, last, action="day", index=n)
    elif "Свободное время" in text and keyboard:
        press(server, user_id, last, action="tm", index=n // 7)
    elif text.startswith("Пока вы выбирали") and keyboard:
        press(server, user_id, last, action="tm")
    elif text.startswith("Комментарий для мастера") and keyboard:
        press(server, user_id, last, label="Без комментария")
    elif text.startswith("Проверьте запись") and keyboard:
        press(server, user_id, last, label="✅ Подтвердить")
    else:
        return None
    return True


# --- the Bot API server and the users, in their own process ----------------------------------
def serve_and_drive(pipe, phones: dict[int, str], first_update_id: int) -> None:
    """Child process: run the Bot API server, tell its URL, then play the users until all are booked."""
    from tests.botapi import BotApiServer

    server = BotApiServer(first_update_id=first_update_id).start()
    pipe.send((server.base_url, server.token))
    webhooks = pipe.recv()  # «go»: the bot is polling (``[]``), or the bot processes' webhook URLs
    cpu_started = time.process_time()
    forward = Forwarder(webhooks) if webhooks else None
    replies: dict[int, int] = defaultdict(int)  # bot messages sent or edited per chat, counted on the server
    waiting: dict[int, tuple[int, float]] = {}   # user → (reply count when they acted, when)
    users = {user_id: n for n, user_id in enumerate(phones)}
    pushed, seen, stuck = 0, 0, ""
    while users and not stuck:
        with server._lock:
            calls = server.state.calls[seen:]
        seen += len(calls)
        for call in calls:
            if call.method in ("sendMessage", "editMessageText", "editMessageReplyMarkup"):
                replies[int(call.params.get("chat_id", 0))] += 1
        for user_id, n in list(users.items()):
            count, since = waiting.get(user_id, (-1, 0.0))
            if replies[user_id] <= count:
                if time.monotonic() - since > 30:
                    stuck = f"user {user_id} got no answer in 30 s to: {server.last_message(user_id)}"
                continue
            outcome = act(server, user_id, n, phones[user_id])
            if outcome:
                waiting[user_id] = (replies[user_id], time.monotonic())
                pushed += 1
            elif outcome is False:
                del users[user_id]
        if forward:
            with server._lock:
                updates, server.state.updates = server.state.updates, []
            forward(updates)
        time.sleep(0.0005)
    pipe.send(("done", pushed, stuck, time.process_time() - cpu_started, forward.sent if forward else []))
    pipe.recv()  # «stop»
    if forward:
        forward.stop()
    server.stop()


class Forwarder:
    """Telegram's side of webhook mode: POST each update to a bot process, chosen by user as a reverse proxy would.

    A few keep-alive connections per bot process (Telegram opens up to 40), each on its own thread.
    """

    CONNECTIONS = 8

    def __init__(self, webhooks: list[str]) -> None:
        import queue
        from urllib.parse import urlsplit

        self.queues = [queue.SimpleQueue() for _ in webhooks]
        self.sent = [0 for _ in webhooks]
        self.threads = [
            threading.Thread(target=self._send, args=(urlsplit(url), self.queues[i]), daemon=True)
            for i, url in enumerate(webhooks) for _ in range(self.CONNECTIONS)
        ]
        for thread in self.threads:
            thread.start()

    def __call__(self, updates: list[dict]) -> None:
        import json

        for update in updates:
            user = (update.get("message") or update.get("callback_query") or {}).get("from", {}).get("id", 0)
            target = user % len(self.queues)
            self.queues[target].put(json.dumps(update).encode())
            self.sent[target] += 1

    def stop(self) -> None:
        for queue in self.queues:
            for _ in range(self.CONNECTIONS):
                queue.put(None)

    @staticmethod
    def _send(url, queue) -> None:
        import http.client

        connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}
        while (body := queue.get()) is not None:
            connection.request("POST", url.path, body, headers)
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"the webhook answered {response.status}")


# --- measuring ------------------------------------------------------------------------------
def step_label(update: Any) -> str:
    from botapp.callbacks import parse

    if update.callback_query:
        button = parse(update.callback_query.data)
        return f"button {button.action or button.kind}" if button else "button ?"
    message = update.message
    if message.contact:
        return "contact"
    return message.text.split()[0] if message.text.startswith("/") else "text"


class Played:
    """What one run of simulated users measured."""

    def __init__(self) -> None:
        self.durations: list[float] = []
        self.by_step: dict[str, list[float]] = defaultdict(list)
        self.queries: Counter[str] = Counter()
        self.handled = 0
        self.elapsed = self.cpu = self.server_cpu = self.last_done = 0.0
        self.cpu_pinned: int | None = None

    @property
    def updates(self) -> int:
        return len(self.durations)

    def percentile_ms(self, fraction: float) -> float:
        ordered = sorted(self.durations)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000

    def queries_by_step(self) -> str:
        steps = sorted(self.by_step.items(), key=lambda kv: -len(kv[1]))
        return ", ".join(f"{label} {self.queries[label] / len(times):.1f}" for label, times in steps)


def start_bot(played: Played, concurrency: int, token: str, base_url: str, webhook_port: int | None = None):
    """The production application on its own loop thread, each update timed and its queries counted; returns ``stop()``.

    Polls the Bot API server, or with ``webhook_port`` serves PTB's webhook there (secret
    checked as in production).
    """
    from django.db import connection

    from botapp import handlers
    from botapp.application import PerUserUpdateProcessor, build_application, release
    from botapp.cpu import keep_on_one_cpu
    from botapp.webhook import ConstantTimeSecret

    class TimedProcessor(PerUserUpdateProcessor):
        """Times each update from the moment its handling starts (after the user's earlier ones)."""

        async def do_process_update(self, update: object, coroutine: Any) -> None:
            async def timed() -> None:
                label = step_label(update)
                _current_step.set(label)
                started = time.perf_counter()
                try:
                    await coroutine
                finally:
                    elapsed = time.perf_counter() - started
                    played.durations.append(elapsed)
                    played.by_step[label].append(elapsed)
                    played.handled += 1
                    played.last_done = time.monotonic()

            await super().do_process_update(update, timed())

    def count(execute, sql, params, many, context):
        played.queries[_current_step.get()] += 1
        return execute(sql, params, many, context)

    def install_counters() -> None:
        """One counting wrapper on each database thread's connection (one task per thread, held until all have one)."""
        barrier = threading.Barrier(handlers.DB_THREADS)

        def install() -> None:
            barrier.wait(10)
            connection.execute_wrappers[:] = [count]

        for future in [handlers._db_executor.submit(install) for _ in range(handlers.DB_THREADS)]:
            future.result(15)

    application = build_application(
        token=token, base_url=base_url, rate_limiter=None, update_processor=TimedProcessor(concurrency),
    )
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()

    def on_loop(coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(60)

    async def start() -> None:
        # As ``runbot`` does: the bot's threads (this loop's, and the database threads it
        # starts) on one CPU; the simulated Telegram in its own process stays unpinned.
        played.cpu_pinned = keep_on_one_cpu()
        await application.initialize()
        await asyncio.get_running_loop().run_in_executor(None, install_counters)
        if webhook_port is None:
            await application.updater.start_polling(poll_interval=0, timeout=1)
        else:
            await application.updater.start_webhook(
                listen="127.0.0.1", port=webhook_port, url_path="hook", secret_token=ConstantTimeSecret(WEBHOOK_SECRET),
                webhook_url=f"http://127.0.0.1:{webhook_port}/hook",
            )
        await application.start()

    async def shutdown() -> None:
        await application.updater.stop()
        await application.stop()
        await application.shutdown()
        await release(application)

    def stop() -> None:
        on_loop(shutdown())
        loop.call_soon_threadsafe(loop.stop)

    on_loop(start())
    return stop


def play(phones: dict[int, str], concurrency: int) -> Played:
    """Run the bot (polling) against a Bot API server in another process until every user has booked."""
    import multiprocessing

    played = Played()
    spawn = multiprocessing.get_context("spawn")
    ours, theirs = spawn.Pipe()
    driver = spawn.Process(target=serve_and_drive, args=(theirs, phones, random.randrange(10**8, 10**9)), daemon=True)
    driver.start()
    base_url, token = ours.recv()
    stop = start_bot(played, concurrency, token, base_url)
    try:
        started, cpu_started = time.perf_counter(), time.process_time()
        ours.send([])
        if not ours.poll(900):
            raise RuntimeError("the simulated users did not finish in 15 minutes")
        _, pushed, stuck, played.server_cpu, _ = ours.recv()
        deadline = time.monotonic() + 60
        while played.handled < pushed and time.monotonic() < deadline:
            time.sleep(0.001)
        played.elapsed = time.perf_counter() - started
        played.cpu = time.process_time() - cpu_started
    finally:
        stop()
        ours.send("stop")
        driver.join(10)
    if stuck:
        raise RuntimeError(stuck)
    return played


# --- webhook mode: several bot processes ------------------------------------------------------
def webhook_bot(pipe, token: str, base_url: str, port: int, concurrency: int) -> None:
    """Child process: one ``runbot --webhook``-like bot process; reports what it measured when told to stop."""
    import django

    django.setup()  # the database and settings the parent chose, through the environment
    played = Played()
    stop = start_bot(played, concurrency, token, base_url, webhook_port=port)
    pipe.send("ready")
    pipe.recv()  # «go»
    cpu_started = time.process_time()
    expected = pipe.recv()  # how many updates were sent here, once the users are done
    deadline = time.monotonic() + 60
    while played.handled < expected and time.monotonic() < deadline:
        time.sleep(0.001)
    played.cpu = time.process_time() - cpu_started
    stop()
    pipe.send(played)


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def play_webhook(phones: dict[int, str], processes: int, concurrency: int) -> Played:
    """Run ``processes`` bot processes in webhook mode; the users' updates go to them by user, as through a proxy."""
    import multiprocessing

    spawn = multiprocessing.get_context("spawn")
    ours, theirs = spawn.Pipe()
    driver = spawn.Process(target=serve_and_drive, args=(theirs, phones, random.randrange(10**8, 10**9)), daemon=True)
    driver.start()
    base_url, token = ours.recv()
    ports = [free_port() for _ in range(processes)]
    bots = []
    for port in ports:
        mine, its = spawn.Pipe()
        process = spawn.Process(target=webhook_bot, args=(its, token, base_url, port, concurrency), daemon=True)
        process.start()
        bots.append((process, mine))
    played = Played()
    try:
        for _, pipe in bots:
            if not pipe.poll(120):
                raise RuntimeError("a webhook bot process did not start in 2 minutes")
            pipe.recv()
        started = time.monotonic()
        for _, pipe in bots:
            pipe.send("go")
        ours.send([f"http://127.0.0.1:{port}/hook" for port in ports])
        if not ours.poll(900):
            raise RuntimeError("the simulated users did not finish in 15 minutes")
        _, pushed, stuck, played.server_cpu, forwarded = ours.recv()
        for (_, pipe), count in zip(bots, forwarded):
            pipe.send(count)  # each waits until it has handled what it got, at most a minute
        parts = []
        for _, pipe in bots:
            if not pipe.poll(120):
                raise RuntimeError("a webhook bot process did not report")
            parts.append(pipe.recv())
    finally:
        ours.send("stop")
        driver.join(10)
        for process, _ in bots:
            process.join(10)
    if stuck:
        raise RuntimeError(stuck)
    for part in parts:
        played.durations += part.durations
        for label, times in part.by_step.items():
            played.by_step[label] += times
        played.queries.update(part.queries)
        played.handled += part.handled
        played.cpu += part.cpu
    played.elapsed = max(part.last_done for part in parts) - started
    if played.handled < pushed:
        raise RuntimeError(f"the bot processes handled {played.handled} of {pushed} updates")
    return played


def pinned(played: Played) -> str:
    return f" (threads on CPU {played.cpu_pinned})" if played.cpu_pinned is not None else " (threads on any CPU)"


def run() -> list[dict]:
    setup_django()
    from bookings.models import Booking, BookingChannel
    from botapp import catalog

    truncate("bookings", "botapp", "clients", "workshops")
    catalog.clear()
    webhook_users = USERS if WEBHOOK_PROCESSES else 0
    phones = make_shop(random.randrange(10**9, 2 * 10**9), USERS + ONE_AT_A_TIME_USERS + webhook_users)
    ids = list(phones)
    # One update at a time: how long handling one takes, with nothing else going on.
    alone = play({user: phones[user] for user in ids[USERS:USERS + ONE_AT_A_TIME_USERS]}, concurrency=1)
    # Many users at once: how many updates a second one bot process gets through.
    busy = play({user: phones[user] for user in ids[:USERS]}, concurrency=CONCURRENCY)
    load = os.getloadavg()[0]  # the machine is shared: other work running meanwhile shows here
    rows = []
    if WEBHOOK_PROCESSES:
        # The same load on several bot processes in webhook mode, as behind a reverse proxy.
        hooked = play_webhook({user: phones[user] for user in ids[-webhook_users:]}, WEBHOOK_PROCESSES, CONCURRENCY)
        hook_rate, hook_load = hooked.updates / hooked.elapsed, os.getloadavg()[0]
        rows.append(
            {"benchmark": f"bot: updates per second, webhook, {WEBHOOK_PROCESSES} processes", "unit": "updates/s",
             "value": round(hook_rate, 1), "target": "", "ok": None,
             "notes": f"{webhook_users} users at once, {hooked.updates} updates, sent by user to {WEBHOOK_PROCESSES} "
                      f"`runbot --webhook`-like processes (PTB's webhook server, secret checked), up to {CONCURRENCY} "
                      f"in flight each; {hooked.cpu / hooked.updates * 1000:.1f} ms of bot CPU per update (all "
                      f"processes); {sum(hooked.queries.values()) / hooked.updates:.2f} queries per update; p95 under "
                      f"this load {hooked.percentile_ms(0.95):.0f} ms; load average {hook_load:.2f} after the run"}
        )
    booked = Booking.objects.filter(channel=BookingChannel.TELEGRAM).count()

    rate = busy.updates / busy.elapsed
    p95 = alone.percentile_ms(0.95)
    per_update = sum(busy.queries.values()) / busy.updates
    return [
        {"benchmark": "bot: updates handled per second", "value": round(rate, 1), "unit": "updates/s",
         "target": "≥ 200", "ok": rate >= 200,
         "notes": f"{USERS} users at once (half new, half already in the base), {busy.updates} updates, up to "
                  f"{CONCURRENCY} in flight (one per user at a time); one bot process{pinned(busy)}, no outgoing rate limiter, "
                  f"Bot API server in another process; {busy.cpu / busy.updates * 1000:.1f} ms of bot CPU per "
                  f"update ({busy.server_cpu / busy.updates * 1000:.1f} ms for the Bot API server and the users); "
                  f"p95 under this load {busy.percentile_ms(0.95):.0f} ms; load average {load:.2f} after the run"},
        {"benchmark": "bot: time to handle one update, p95", "value": round(p95, 1), "unit": "ms",
         "target": "≤ 30", "ok": p95 <= 30,
         "notes": f"{ONE_AT_A_TIME_USERS} users one update at a time, {alone.updates} updates; p50 "
                  f"{alone.percentile_ms(0.5):.1f} ms; from the start of handling to the last reply sent over HTTP"},
        {"benchmark": "bot: SQL queries per update", "value": round(per_update, 2), "unit": "queries",
         "target": "≤ 6", "ok": per_update <= 6,
         "notes": f"by step: {busy.queries_by_step()}; {booked} bookings made in all"},
        *rows,
    ]


if __name__ == "__main__":
    for row in run():
        print(f"{row['benchmark']}: {row['value']} {row['unit']} (target {row['target']}) — {row['notes']}")
