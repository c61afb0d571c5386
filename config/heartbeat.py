"""Heartbeat files: how the bot and beat containers tell Docker they are alive and doing their job.

The process touches ``settings.HEARTBEAT_FILE`` each time it completes a unit of its real work
(the bot: a getUpdates the Bot API answered; beat: a tick of its scheduling loop), and the
container's healthcheck (deploy/healthcheck.py) calls it unhealthy when the file gets old. A file
costs one ``utime`` per touch and the check starts no Django, unlike a check that asks the process.
"""

from pathlib import Path

from django.conf import settings


def heartbeat() -> None:
    """Touch the heartbeat file when one is configured (only in the containers)."""
    if settings.HEARTBEAT_FILE:
        Path(settings.HEARTBEAT_FILE).touch()
