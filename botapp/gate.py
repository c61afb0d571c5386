"""Before any handler: drop repeated updates and a flooding user's excess (shared through the Django cache).

With Redis as the cache (production), every bot process behind one webhook sees the same
counters, so an update Telegram delivers twice — to one process or two — is handled once.
"""

from enum import Enum

from django.core.cache import cache

REPEAT_TTL = 24 * 3600  # Telegram gives up redelivering a webhook update within a day
FLOOD_LIMIT = 20        # updates one user may send …
FLOOD_WINDOW = 10       # … in this many seconds, counted from their first one


class Verdict(Enum):
    PASS = "pass"
    REPEAT = "repeat"      # seen before: drop silently
    SLOW_DOWN = "slow"     # the first update over the limit: drop, and say «не так быстро» once
    FLOOD = "flood"        # further updates over the limit: drop silently


def flood_key(bot_id: int, user_id: int) -> str:
    """The cache key counting one user's updates in the current window."""
    return f"tg:{bot_id}:flood:{user_id}"


def gate_check(*, bot_id: int, update_id: int, user_id: int | None) -> Verdict:
    """Whether to handle this update. Costs two or three cache round trips, no SQL."""
    if not cache.add(f"tg:{bot_id}:update:{update_id}", 1, REPEAT_TTL):
        return Verdict.REPEAT
    if user_id is None:
        return Verdict.PASS
    key = flood_key(bot_id, user_id)
    cache.add(key, 0, FLOOD_WINDOW)
    try:
        count = cache.incr(key)
    except ValueError:  # the window expired between add and incr
        cache.add(key, 1, FLOOD_WINDOW)
        count = 1
    if count <= FLOOD_LIMIT:
        return Verdict.PASS
    return Verdict.SLOW_DOWN if count == FLOOD_LIMIT + 1 else Verdict.FLOOD
