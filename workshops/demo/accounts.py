"""Demo accounts and the two staff groups: «Владелец» (owner) and «Менеджер» (branch manager).

Passwords are random and returned only for accounts created by this call, so the
command prints each once; an existing account is never reset.
"""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser, Group, Permission
from django.utils.crypto import get_random_string

from workshops.models import StaffMembership, StaffRole, Workshop

OWNER_GROUP = "Владелец"
MANAGER_GROUP = "Менеджер"

ALL = ("view", "add", "change", "delete")
# Bookings are cancelled, never deleted; their history and the notification outbox are
# written by the engine alone. Which rows each person sees is the admin's branch scoping;
# these permissions say what they may do with the rows they see.
OWNER_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "workshops.company": ("view", "change"),
    "workshops.workshop": ALL,
    "workshops.bay": ALL,
    "workshops.workinghours": ALL,
    "workshops.closedday": ALL,
    "workshops.service": ALL,
    "workshops.staffmembership": ALL,
    "workshops.stafftelegramlink": ("view", "delete"),
    "clients.client": ALL,
    "clients.clientphone": ALL,
    "clients.vehicle": ALL,
    "clients.consent": ("view",),
    "bookings.booking": ("view", "add", "change"),
    "bookings.bookinghistory": ("view",),
    "bookings.notification": ("view",),
    "imports.importjob": ("view", "add"),
    "auth.user": ("view", "add", "change"),
    "auth.group": ("view",),
}
# A manager runs their branch: its day (bookings, clients, cars), its hours, closed days,
# bays and own services, and importing its client base. Adding branches and staff is the owner's.
MANAGER_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "workshops.company": ("view",),
    "workshops.workshop": ("view", "change"),
    "workshops.bay": ("view", "add", "change"),
    "workshops.workinghours": ALL,
    "workshops.closedday": ALL,
    "workshops.service": ("view", "add", "change"),
    "workshops.staffmembership": ("view",),
    "clients.client": ("view", "add", "change"),
    "clients.clientphone": ALL,
    "clients.vehicle": ("view", "add", "change"),
    "clients.consent": ("view",),
    "bookings.booking": ("view", "add", "change"),
    "bookings.bookinghistory": ("view",),
    "bookings.notification": ("view",),
    "imports.importjob": ("view", "add"),
}
# Permissions that are not a model action, given to both groups.
SPECIAL_PERMISSIONS = ("imports.import_clients",)
# Apps other teams fill in; the owner gets view/add/change on whatever models they hold.
OWNER_EXTRA_APPS = ("botapp", "reports")


@dataclass(frozen=True)
class ManagerSpec:
    username: str
    first_name: str
    last_name: str
    workshop_slug: str


MANAGERS = (
    ManagerSpec("manager_msk", "Ольга", "Смирнова", "moscow"),
    ManagerSpec("manager_ekb", "Денис", "Ковалёв", "ekb"),
)


@dataclass(frozen=True)
class NewAccount:
    """An account this run created, with the only copy of its password."""

    username: str
    password: str
    role: str


def _permissions(spec: dict[str, tuple[str, ...]]) -> list[Permission]:
    wanted = {
        (model.split(".")[0], f"{action}_{model.split('.')[1]}") for model, actions in spec.items() for action in actions
    } | {tuple(name.split(".")) for name in SPECIAL_PERMISSIONS}
    found = [
        perm for perm in Permission.objects.select_related("content_type")
        if (perm.content_type.app_label, perm.codename) in wanted
    ]
    missing = wanted - {(p.content_type.app_label, p.codename) for p in found}
    if missing:
        raise LookupError(f"Permissions not found (migrate first?): {sorted(missing)}")
    return found


def ensure_groups() -> dict[str, Group]:
    """Create or update the «Владелец» and «Менеджер» groups to hold exactly their permissions."""
    owner, _ = Group.objects.get_or_create(name=OWNER_GROUP)
    extra = Permission.objects.filter(
        content_type__app_label__in=OWNER_EXTRA_APPS, codename__regex=r"^(view|add|change)_"
    )
    owner.permissions.set(
        [*_permissions(OWNER_PERMISSIONS), *extra,
         Permission.objects.get(content_type__app_label="workshops", codename="access_all_workshops")]
    )
    manager, _ = Group.objects.get_or_create(name=MANAGER_GROUP)
    manager.permissions.set(_permissions(MANAGER_PERMISSIONS))
    return {OWNER_GROUP: owner, MANAGER_GROUP: manager}


def _new_password() -> str:
    return get_random_string(14)


def ensure_admin(username: str = "admin") -> NewAccount | None:
    """Create the superuser ``username`` with a random password, unless it exists."""
    User = get_user_model()
    if User.objects.filter(username=username).exists():
        return None
    password = _new_password()
    User.objects.create_superuser(username=username, email="", password=password)
    return NewAccount(username, password, "суперпользователь, видит все филиалы")


def ensure_managers(groups: dict[str, Group]) -> list[NewAccount]:
    """A manager account per demo branch that exists, with membership and the «Менеджер» group."""
    User = get_user_model()
    created: list[NewAccount] = []
    for spec in MANAGERS:
        workshop = Workshop.objects.filter(slug=spec.workshop_slug).first()
        if workshop is None or User.objects.filter(username=spec.username).exists():
            continue
        password = _new_password()
        user: AbstractUser = User.objects.create_user(
            username=spec.username, password=password, first_name=spec.first_name, last_name=spec.last_name,
            is_staff=True,
        )
        user.groups.add(groups[MANAGER_GROUP])
        StaffMembership.objects.create(user=user, workshop=workshop, role=StaffRole.MANAGER)
        created.append(NewAccount(spec.username, password, f"менеджер филиала «{workshop.name}»"))
    return created
