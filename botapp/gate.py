"""Before any handler: drop repeated updates and a flooding user's excess.

With Redis (production) the counters live there, so every bot process behind one webhook
sees them: an update Telegram delivers twice — to one process or two — is handled once,
and a user's flood is counted across processes. Without Redis (``make demo``: one
process) they live in memory. Either way the check is one round trip, made on the
event loop, without a database thread.
"""

import time
from enum import Enum

import redis.asyncio as aioredis

REPEAT_TTL = 24 * 3600  # Telegram gives up redelivering a webhook update within a day
FLOOD_LIMIT = 20        # updates one user may send …
FLOOD_WINDOW = 10       # … in this many seconds, counted from the first one


class Verdict(Enum):
    PASS = "pass"
    REPEAT = "repeat"      # seen before: drop silently
    SLOW_DOWN = "slow"     # the first update over the limit: drop, and say «не так быстро» once
    FLOOD = "flood"        # further updates over the limit: drop silently


def verdict(*, fresh: bool, count: int | None) -> Verdict:
    """What to do with an update, from whether its id is new and the user's count in the window."""
    if not fresh:
        return Verdict.REPEAT
    if count is None or count <= FLOOD_LIMIT:
        return Verdict.PASS
    return Verdict.SLOW_DOWN if count == FLOOD_LIMIT + 1 else Verdict.FLOOD


class RedisGate:
    """The counters in Redis: ``SET NX`` for the update id, a window counter per user. One pipelined round trip."""

    def __init__(self, url: str, bot_id: int) -> None:
        self.redis = aioredis.Redis.from_url(url)
        self.prefix = f"tg:{bot_id}"

    async def check(self, *, update_id: int, user_id: int | None) -> Verdict:
        pipe = self.redis.pipeline(transaction=False)
        pipe.set(f"{self.prefix}:update:{update_id}", 1, nx=True, ex=REPEAT_TTL)
        if user_id is not None:
            flood = f"{self.prefix}:flood:{user_id}"
            pipe.set(flood, 0, nx=True, ex=FLOOD_WINDOW)  # opens a window (and its expiry) if none is open
            pipe.incr(flood)
        results = await pipe.execute()
        return verdict(fresh=bool(results[0]), count=results[2] if user_id is not None else None)

    async def forget_user(self, user_id: int) -> None:
        """Close the user's window now (tests play a person who takes a few seconds per tap)."""
        await self.redis.delete(f"{self.prefix}:flood:{user_id}")

    async def close(self) -> None:
        await self.redis.aclose()


class MemoryGate:
    """The same counters in this process's memory, for a single bot process without Redis."""

    def __init__(self) -> None:
        self.seen: dict[int, float] = {}
        self.windows: dict[int, tuple[float, int]] = {}

    async def check(self, *, update_id: int, user_id: int | None) -> Verdict:
        now = time.monotonic()
        if len(self.seen) > 100_000:
            self.seen = {key: expires for key, expires in self.seen.items() if expires > now}
        fresh = self.seen.get(update_id, 0) <= now
        self.seen[update_id] = now + REPEAT_TTL if fresh else self.seen[update_id]
        if user_id is None:
            return verdict(fresh=fresh, count=None)
        ends, count = self.windows.get(user_id, (0.0, 0))
        ends, count = (ends, count + 1) if ends > now else (now + FLOOD_WINDOW, 1)
        self.windows[user_id] = (ends, count)
        return verdict(fresh=fresh, count=count)

    async def forget_user(self, user_id: int) -> None:
        self.windows.pop(user_id, None)

    async def close(self) -> None:
        """Nothing to close."""


def make_gate(*, redis_url: str, bot_id: int) -> RedisGate | MemoryGate:
    return RedisGate(redis_url, bot_id) if redis_url else MemoryGate()
