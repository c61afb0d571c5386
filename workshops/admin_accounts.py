"""Accounts and third-party admin pages: themed with unfold and open to owners only.

Django's auth, DRF's API tokens and Celery beat register their own admins before our
apps are loaded. Staff accounts, tokens and periodic tasks are not branch data a manager
runs the day with, and a manager who could edit users could give themselves another
branch; so these pages are for owners. Owners give a user their branches on the user's
page (the «Филиалы» inline).
"""

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as BaseGroupAdmin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.models import Group, User
from unfold.admin import ModelAdmin, TabularInline
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm

from workshops.admin_scope import OwnerOnlyAdminMixin
from workshops.models import StaffMembership


class StaffMembershipInline(TabularInline):
    model = StaffMembership
    fk_name = "user"
    extra = 0
    verbose_name = "филиал сотрудника"
    verbose_name_plural = "филиалы сотрудника"


admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class UserAdmin(OwnerOnlyAdminMixin, BaseUserAdmin, ModelAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm
    inlines = [StaffMembershipInline]
    list_display = ("username", "first_name", "last_name", "email", "is_staff", "is_superuser", "is_active")


@admin.register(Group)
class GroupAdmin(OwnerOnlyAdminMixin, BaseGroupAdmin, ModelAdmin):
    pass


def _rewrap_third_party_admins() -> None:
    """Re-register every other admin registered so far with unfold's styling, for owners only.

    Apps load in ``INSTALLED_APPS`` order and ours come last, so what is registered when
    this runs is third-party: DRF's tokens and Celery beat's schedules.
    """
    for model, model_admin in list(admin.site._registry.items()):
        if isinstance(model_admin, OwnerOnlyAdminMixin):
            continue
        base = type(model_admin)
        wrapped = type(base.__name__, (OwnerOnlyAdminMixin, base, ModelAdmin), {"__module__": __name__})
        admin.site.unregister(model)
        admin.site.register(model, wrapped)


_rewrap_third_party_admins()
