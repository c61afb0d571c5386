"""The shared Telegram limiter (Redis): slots for the bot, pauses per chat, waits after a 429."""

import threading

import pytest

from bookings.notifications import ratelimit


def reserved_moments(chat_ids) -> list[int]:
    """The moments (µs of Redis's clock) the limiter gave these chats, read back from Redis.

    Each chat's key holds its slot plus the chat's pause; reading slots from Redis, not
    timing the calls, keeps these tests exact on a busy machine.
    """
    client = ratelimit._redis()
    moments = [
        int(client.get(f"{ratelimit.KEY_PREFIX}chat:{chat_id}")) - ratelimit._us(ratelimit.chat_interval(chat_id))
        for chat_id in chat_ids
    ]
    return sorted(moments)


def test_messages_to_different_chats_get_distinct_slots_a_28th_of_a_second_apart():
    waits = [ratelimit.reserve(chat_id) for chat_id in range(1, 29)]
    assert waits[0] == pytest.approx(0, abs=0.01) and waits[-1] <= 1.0
    moments = reserved_moments(range(1, 29))
    gaps = [b - a for a, b in zip(moments, moments[1:])]
    # Never closer than Telegram allows; back-to-back calls are faster than 28/s, so the
    # slots follow each other at that pace (the slack is for a call delayed on a busy machine).
    assert min(gaps) >= ratelimit._us(1 / 28), gaps
    assert moments[-1] - moments[0] <= 27 * ratelimit._us(1 / 28) + 500_000


def test_a_private_chat_waits_a_second_and_a_group_three_between_messages():
    ratelimit.reserve(42)
    reserved, wait = ratelimit._try_reserve(42)
    assert not reserved and 1.0 <= wait <= 1.1
    ratelimit.reset()
    ratelimit.reserve(-100500)
    reserved, wait = ratelimit._try_reserve(-100500)
    assert not reserved and 3.0 <= wait <= 3.1


def test_threads_reserving_at_once_never_share_a_slot():
    barrier = threading.Barrier(20)

    def reserve(chat_id):
        barrier.wait()
        ratelimit.reserve(chat_id)

    chat_ids = [1000 + n for n in range(20)]
    threads = [threading.Thread(target=reserve, args=(chat_id,)) for chat_id in chat_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    moments = reserved_moments(chat_ids)
    gaps = [b - a for a, b in zip(moments, moments[1:])]
    # Two threads sharing a slot would show as a gap of 0; a slow thread only makes a gap longer.
    assert min(gaps) >= ratelimit._us(1 / 28), gaps


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
