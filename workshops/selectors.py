"""Reads about branches and who may see them."""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from workshops.models import Workshop


def user_is_owner(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Owners see every branch: superusers and holders of ``access_all_workshops``."""
    return bool(user.is_active and (user.is_superuser or user.has_perm("workshops.access_all_workshops")))


def workshops_for_user(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Workshop]:
    """The branches a staff user may see and change."""
    if not user.is_authenticated:
        return Workshop.objects.none()
    if user_is_owner(user):
        return Workshop.objects.all()
    return Workshop.objects.filter(memberships__user=user).distinct()


def workshop_ids_for_user(user: AbstractBaseUser | AnonymousUser) -> list[int] | None:
    """Ids of the user's branches, or ``None`` meaning «all» (owner)."""
    if user.is_authenticated and user_is_owner(user):
        return None
    cached = getattr(user, "_workshop_ids_cache", None)
    if cached is None:
        cached = list(workshops_for_user(user).values_list("id", flat=True))
        user._workshop_ids_cache = cached
    return cached
