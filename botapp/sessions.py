"""Housekeeping of conversation state: what an abandoned conversation may keep."""

from datetime import datetime, timedelta

from django.utils import timezone

from botapp.flow.core import session_clear
from botapp.models import BotSession

IDLE_AFTER = timedelta(days=1)


def sessions_forget_idle(*, idle: timedelta = IDLE_AFTER, now: datetime | None = None) -> int:
    """Forget the choices of conversations left mid-flow for ``idle``; return how many.

    A person who stops after sharing their number would otherwise leave it (and a plate,
    a comment) in the session for good. The link to the client is kept; the next update
    from the person starts from the menu, and an old button there gets the polite «stale» answer.
    """
    cutoff = (now or timezone.now()) - idle
    stale = list(BotSession.objects.filter(updated_at__lt=cutoff).exclude(state=""))
    for session in stale:
        session_clear(session)
    BotSession.objects.bulk_update(stale, ["state", "step", "data"], batch_size=500)
    return len(stale)
