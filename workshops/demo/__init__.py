"""The demo company ``make demo`` loads: ``demo_setup`` is the one entry point.

Idempotent: the data is loaded only into a database without branches; groups are kept
up to date; accounts are created once, and only then is their password returned.
"""

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from workshops.demo.accounts import (
    MANAGERS,
    NewAccount,
    ensure_admin,
    ensure_groups,
    ensure_managers,
)
from workshops.demo.loader import load_all, load_structure
from workshops.models import Workshop


@dataclass(frozen=True)
class SetupResult:
    loaded: bool
    new_accounts: list[NewAccount]


def demo_setup(*, now: datetime | None = None, seed: int = 2024) -> SetupResult:
    """Load the demo company into an empty database and make sure its accounts and groups exist.

    One transaction: an interrupted load leaves nothing behind, so the next run starts over.
    """
    now = now or timezone.now()
    with transaction.atomic():
        loaded = not Workshop.objects.exists()
        if loaded:
            load_structure(now=now)
        groups = ensure_groups()
        admin = ensure_admin()
        accounts = ([admin] if admin else []) + ensure_managers(groups)
        if loaded:
            users = get_user_model().objects.filter(username__in=[m.username for m in MANAGERS])
            by_username = {user.username: user for user in users}
            managers = {m.workshop_slug: by_username.get(m.username) for m in MANAGERS}
            load_all(now=now, seed=seed, managers=managers)
    return SetupResult(loaded=loaded, new_accounts=accounts)
