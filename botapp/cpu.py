"""The bot's threads on one CPU (``manage.py runbot``; the bot benchmark does the same).

The bot is one Python process: its event loop and its database threads take turns holding
the GIL, so it never uses much more than one core. Spread over two CPUs, every hand-over (a
database thread done with its query, an answer for the event loop) wakes a thread on the
other CPU, and on a virtual machine waking an idle vCPU goes through the hypervisor: 40–100 µs
of CPU each, several per update. On one CPU the hand-overs are plain context switches; the
other processes (PostgreSQL, Redis, web, worker) still run wherever the kernel puts them.
Measured on the 2-vCPU development machine: about a quarter less CPU per update
(BENCHMARKS.md, "Telegram bot").
"""

import os

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def keep_on_one_cpu(choice: str | None = None) -> int | None:
    """Keep the calling thread, and the threads it starts from now on, on one CPU; return it (``None``: not pinned).

    ``choice`` (default ``TELEGRAM_BOT_CPU``): ``auto`` picks one of the CPUs this process may
    use by its process id (bot processes started one after another land on different CPUs),
    ``all`` leaves the threads to the kernel, a number names the CPU. Call it before the bot
    starts its threads. Where the system has no CPU affinity (macOS) it does nothing.
    """
    choice = settings.TELEGRAM_BOT_CPU if choice is None else choice
    if choice == "all" or not hasattr(os, "sched_setaffinity"):
        return None
    allowed = sorted(os.sched_getaffinity(0))
    cpu = allowed[os.getpid() % len(allowed)] if choice == "auto" else int(choice)
    if cpu not in allowed:
        raise ImproperlyConfigured(
            f"TELEGRAM_BOT_CPU={choice}: the bot may use only CPUs {', '.join(map(str, allowed))}."
        )
    os.sched_setaffinity(0, {cpu})  # on Linux: this thread; threads it starts inherit the mask
    return cpu
