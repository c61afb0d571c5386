"""The bot's threads keep to one CPU (``TELEGRAM_BOT_CPU``): the mask a thread sets is what its new threads get.

Each test pins a thread of its own, never the test runner's.
"""

import os
import threading

import pytest
from django.core.exceptions import ImproperlyConfigured

from botapp.cpu import keep_on_one_cpu

pytestmark = pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity on this system")


def in_a_thread(choice: str) -> dict:
    """``keep_on_one_cpu(choice)`` on a new thread; what it returned and the CPUs a thread it then starts may use."""
    seen: dict = {}

    def bot() -> None:
        try:
            seen["cpu"] = keep_on_one_cpu(choice)
        except ImproperlyConfigured as exc:
            seen["error"] = str(exc)
            return
        worker = threading.Thread(target=lambda: seen.update(worker=os.sched_getaffinity(0)))
        worker.start()
        worker.join()

    thread = threading.Thread(target=bot)
    thread.start()
    thread.join()
    return seen


def test_auto_keeps_the_bot_and_the_threads_it_starts_on_one_of_its_cpus():
    allowed = os.sched_getaffinity(0)
    seen = in_a_thread("auto")
    assert seen["cpu"] in allowed
    assert seen["worker"] == {seen["cpu"]}
    assert os.sched_getaffinity(0) == allowed  # the caller's own threads are left alone


def test_a_cpu_number_is_taken_as_given():
    cpu = max(os.sched_getaffinity(0))
    assert in_a_thread(str(cpu)) == {"cpu": cpu, "worker": {cpu}}


def test_all_leaves_the_threads_to_the_kernel():
    assert in_a_thread("all") == {"cpu": None, "worker": os.sched_getaffinity(0)}


def test_a_cpu_the_process_may_not_use_is_refused_naming_the_setting():
    seen = in_a_thread("4096")
    assert "TELEGRAM_BOT_CPU=4096" in seen["error"]
    assert "worker" not in seen
