"""Telegram's limits, kept by every worker together: a slot reservation in Redis.

Telegram allows a bot about 30 messages per second overall, one per second to one
private chat and 20 per minute to one group. Each send first reserves a moment: the
earliest time at which the bot-wide slot is free and the chat has had its pause
(generic cell rate: the key holds the next free time). The reservation is one Lua
script, so workers on any number of machines never get the same slot. The clock is
Redis's own, so workers' clocks may differ.

A chat that is not yet free does not take a bot-wide slot (it would waste one for
everybody); the caller waits and asks again. Without Redis (the demo) the same rule
runs in-process.
"""

from __future__ import annotations

import threading
import time
from functools import lru_cache

import redis
from django.conf import settings

PRIVATE_CHAT_INTERVAL = 1.1  # 1 message/s per chat, with a margin for network jitter
GROUP_CHAT_INTERVAL = 3.1  # 20 messages/min per group
MAX_WAIT = 5.0  # wait for a slot this long in the worker; beyond it, retry the row later
KEY_PREFIX = "notify:tg:"

# Times are integer microseconds of Redis's clock, written with %d: Lua would print a
# large float in exponent notation and lose the microseconds.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local global_interval = tonumber(ARGV[1])
local chat_interval = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local global_free = tonumber(redis.call('GET', KEYS[1]) or '0')
local chat_free = tonumber(redis.call('GET', KEYS[2]) or '0')
local at = math.max(now, global_free)
if chat_free > at then
  return {0, chat_free - now}
end
if at - now > max_wait then
  return {0, at - now}
end
local ttl = math.floor((at - now) / 1000) + 60000
redis.call('SET', KEYS[1], string.format('%d', at + global_interval), 'PX', ttl)
redis.call('SET', KEYS[2], string.format('%d', at + chat_interval), 'PX', ttl)
return {1, at - now}
"""

_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local until_us = now + tonumber(ARGV[1])
local ttl = math.floor(tonumber(ARGV[1]) / 1000) + 60000
for _, key in ipairs(KEYS) do
  local free = tonumber(redis.call('GET', key) or '0')
  if until_us > free then
    redis.call('SET', key, string.format('%d', until_us), 'PX', ttl)
  end
end
return 1
"""


def chat_interval(chat_id: int) -> float:
    """Seconds between two messages to one chat (negative ids are groups and channels)."""
    return GROUP_CHAT_INTERVAL if chat_id < 0 else PRIVATE_CHAT_INTERVAL


class SlotTooFar(Exception):
    """The next slot is more than ``MAX_WAIT`` away; ``wait`` says how far."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"next Telegram slot in {wait:.1f}s")
        self.wait = wait


@lru_cache(maxsize=1)
def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


@lru_cache(maxsize=1)
def _scripts() -> tuple:
    client = _redis()
    return client.register_script(_RESERVE), client.register_script(_PAUSE)


def _us(seconds: float) -> int:
    return round(seconds * 1_000_000)


def _keys(chat_id: int) -> list[str]:
    return [f"{KEY_PREFIX}global", f"{KEY_PREFIX}chat:{chat_id}"]


def _try_reserve(chat_id: int) -> tuple[bool, float]:
    """One attempt: (reserved?, seconds to wait)."""
    global_interval = 1.0 / settings.TELEGRAM_RATE_PER_SECOND
    if not settings.REDIS_URL:
        return _local.try_reserve(chat_id, global_interval, chat_interval(chat_id))
    reserve, _ = _scripts()
    reserved, wait_us = reserve(
        keys=_keys(chat_id), args=[_us(global_interval), _us(chat_interval(chat_id)), _us(MAX_WAIT)]
    )
    return bool(reserved), int(wait_us) / 1_000_000


def reserve(chat_id: int) -> float:
    """Reserve a moment to send to ``chat_id``; return seconds to sleep before sending.

    Raises ``SlotTooFar`` when the chat or the bot is booked up beyond ``MAX_WAIT``.
    """
    waited = 0.0
    while True:
        reserved, wait = _try_reserve(chat_id)
        if reserved:
            return wait
        if waited + wait > MAX_WAIT:
            raise SlotTooFar(wait)
        time.sleep(wait)
        waited += wait


def pause(chat_id: int, seconds: float) -> None:
    """Telegram said «retry after ``seconds``»: nobody sends to this chat, or at all, before then."""
    if not settings.REDIS_URL:
        _local.pause(chat_id, seconds)
        return
    _, pause_script = _scripts()
    pause_script(keys=_keys(chat_id), args=[_us(seconds)])


def reset() -> None:
    """Forget every reservation (tests and benchmarks start from a quiet bot)."""
    if not settings.REDIS_URL:
        _local.free.clear()
        return
    client = _redis()
    keys = list(client.scan_iter(match=f"{KEY_PREFIX}*", count=1000))
    if keys:
        client.delete(*keys)


class _LocalLimiter:
    """The same rule in one process, for the demo that runs without Redis."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.free: dict[str, float] = {}

    def try_reserve(self, chat_id: int, global_interval: float, interval: float) -> tuple[bool, float]:
        global_key, chat_key = _keys(chat_id)
        with self.lock:
            now = time.monotonic()
            at = max(now, self.free.get(global_key, 0.0))
            chat_free = self.free.get(chat_key, 0.0)
            if chat_free > at:
                return False, chat_free - now
            if at - now > MAX_WAIT:
                return False, at - now
            self.free[global_key] = at + global_interval
            self.free[chat_key] = at + interval
            return True, at - now

    def pause(self, chat_id: int, seconds: float) -> None:
        with self.lock:
            until = time.monotonic() + seconds
            for key in _keys(chat_id):
                self.free[key] = max(self.free.get(key, 0.0), until)


_local = _LocalLimiter()
