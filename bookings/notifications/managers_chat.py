"""The branches' managers' Telegram chat follows its group when Telegram turns it into a supergroup.

Telegram does this when the group's admins turn on e.g. «history visible to new members»
or a public link; the group gets a new id and the old one refuses every message. We learn
it from the 400 answer to a send (``transports.ChatMigrated``) or from the service message
the bot receives in the group (``botapp.notify_handlers.chat_migrated``).
"""

from __future__ import annotations

import logging

from workshops.models import Workshop

logger = logging.getLogger(__name__)


def manager_chat_migrate(*, old_chat_id: int, new_chat_id: int) -> int:
    """Point every branch whose managers' chat is ``old_chat_id`` at ``new_chat_id``; return how many changed."""
    moved = Workshop.objects.filter(manager_telegram_chat_id=old_chat_id).update(manager_telegram_chat_id=new_chat_id)
    if moved:
        logger.info("Managers' chat %s became supergroup %s: %d branch(es) updated", old_chat_id, new_chat_id, moved)
    return moved
