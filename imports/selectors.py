"""What an import page may show its reader."""

from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from clients.models import Client
from workshops.selectors import workshop_ids_for_user

HIDDEN = "скрыто: клиент другого филиала"


def conflicts_for_user(user: AbstractBaseUser, conflicts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``conflicts`` as ``user`` may read them: what the base holds for a client none of their
    branches serves yet is hidden. A preview links nobody, so without this a list of phone
    numbers would be enough to read other branches' clients; once the import is done the
    client is this branch's too and the values show."""
    ids = workshop_ids_for_user(user)
    if ids is None:
        return conflicts
    client_ids = {c["client_id"] for c in conflicts if c.get("client_id")}
    visible = set(Client.workshops.through.objects.filter(client_id__in=client_ids, workshop_id__in=ids)
                  .values_list("client_id", flat=True))
    return [c if c.get("client_id") in visible or not c.get("client_id") else {**c, "kept": HIDDEN}
            for c in conflicts]
