"""The shared Telegram limiter (Redis): slots for the bot, pauses per chat, waits after a 429."""

import threading
import time

import pytest

from bookings.notifications import ratelimit


def test_messages_to_different_chats_get_distinct_slots_a_28th_of_a_second_apart():
    slots = [time.monotonic() + ratelimit.reserve(chat_id) for chat_id in range(1, 29)]
    gaps = [b - a for a, b in zip(slots, slots[1:])]
    assert all(gap == pytest.approx(1 / 28, abs=0.008) for gap in gaps), gaps


def test_a_private_chat_waits_a_second_and_a_group_three_between_messages():
    ratelimit.reserve(42)
    reserved, wait = ratelimit._try_reserve(42)
    assert not reserved and 1.0 <= wait <= 1.1
    ratelimit.reset()
    ratelimit.reserve(-100500)
    reserved, wait = ratelimit._try_reserve(-100500)
    assert not reserved and 3.0 <= wait <= 3.1


def test_threads_reserving_at_once_never_share_a_slot():
    """If any two shared a slot, the bot's next free moment would be less than 20 slots ahead."""
    barrier = threading.Barrier(20)

    def reserve(chat_id):
        barrier.wait()
        ratelimit.reserve(chat_id)

    threads = [threading.Thread(target=reserve, args=(1000 + n,)) for n in range(20)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    reserved, wait = ratelimit._try_reserve(9999)
    assert reserved
    assert wait + (time.monotonic() - started) == pytest.approx(20 / 28, abs=0.05)


def test_after_a_429_nobody_sends_before_retry_after_and_a_long_wait_is_handed_back():
    ratelimit.pause(7, 2.0)
    assert 1.9 <= ratelimit._try_reserve(8)[1] <= 2.0, "the whole bot waits out a 429"
    ratelimit.pause(7, 30.0)
    with pytest.raises(ratelimit.SlotTooFar) as far:
        ratelimit.reserve(7)
    assert far.value.wait > ratelimit.MAX_WAIT


def test_without_redis_the_same_rules_hold_in_process(settings):
    settings.REDIS_URL = ""
    ratelimit.reset()
    assert ratelimit.reserve(42) == pytest.approx(0, abs=0.01)
    reserved, wait = ratelimit._try_reserve(42)
    assert not reserved and 1.0 <= wait <= 1.1
