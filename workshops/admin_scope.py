"""Branch scoping for Django Admin: staff see and change only their branches' data.

Every ModelAdmin in the project declares who may use it by building on one of three
mixins (``tests/admin/test_branch_isolation.py`` fails for an admin that does not):

* ``BranchScopedAdminMixin`` — the model reaches a ``Workshop`` through ``branch_path``
  (``"workshop"``, ``"bay__workshop"``, ``"workshops"`` for an M2M, ``"pk"`` for Workshop
  itself). Non-owners get only rows of their branches in the changelist, change / delete /
  history URLs (others redirect to the index, as Django does for a missing object),
  foreign-key and M2M choices, autocomplete answers, list-filter choices and actions.
* ``OwnerOnlyAdminMixin`` — accounts, periodic tasks, API tokens: owners only.
* ``CompanyWideAdminMixin`` — company data with nothing of any branch in it (the
  company's requisites): every staff user may view it, only owners change it.

Owners (superusers and holders of ``workshops.access_all_workshops``) see everything.
The scope comes from ``workshops.selectors``; nothing here decides who belongs where.

Autocomplete asks the *target* model's admin for its queryset, so scoping a target admin
also scopes every autocomplete pointing at it. Choices of a foreign key to a model whose
admin is branch-scoped are scoped the same way (``get_field_queryset``), which also makes
a posted id of another branch fail form validation.
"""

from collections.abc import Iterable
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.admin.filters import RelatedFieldListFilter
from django.contrib.admin.sites import NotRegistered
from django.contrib.admin.utils import NotRelationField, get_fields_from_path, get_model_from_relation
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from unfold.contrib.filters.admin import RelatedDropdownFilter

from workshops.models import StaffMembership, Workshop
from workshops.selectors import user_is_owner, workshop_ids_for_user


def scope_to_workshops(queryset: QuerySet, branch_path: str, workshop_ids: Iterable[int] | None) -> QuerySet:
    """``queryset`` narrowed to rows reaching one of ``workshop_ids`` through ``branch_path``.

    ``None`` means «all branches» (owner) and returns ``queryset`` unchanged. A path that
    crosses a to-many relation is applied as a semi-join (``pk IN (…)``), so rows linked to
    two of the user's branches appear once and the outer query keeps its ordering.
    """
    if workshop_ids is None:
        return queryset
    ids = list(workshop_ids)
    lookup = f"{branch_path}__in"
    if _path_is_multivalued(queryset.model, branch_path):
        inner = queryset.model._default_manager.filter(**{lookup: ids}).values("pk")
        return queryset.filter(pk__in=inner)
    return queryset.filter(**{lookup: ids})


def _path_is_multivalued(model: type[models.Model], path: str) -> bool:
    """Whether following ``path`` from ``model`` crosses a many-to-many or reverse foreign key."""
    for name in path.split("__"):
        if name == "pk":
            return False
        field = model._meta.get_field(name)
        if field.many_to_many or field.one_to_many:
            return True
        model = field.related_model
    return False


def user_workshop_ids(request: HttpRequest) -> list[int] | None:
    """The request user's branch ids, or ``None`` for an owner (cached on the user for the request)."""
    return workshop_ids_for_user(request.user)


def scoped_queryset_for_model(
    model: type[models.Model], request: HttpRequest, admin_site: admin.AdminSite
) -> QuerySet | None:
    """Rows of ``model`` the request user may pick, or ``None`` when ``model`` is not branch data.

    The answer comes from ``model``'s own admin when it is branch-scoped; a Workshop is
    always scoped, registered or not.
    """
    try:
        related_admin = admin_site.get_model_admin(model)
    except NotRegistered:
        related_admin = None
    if isinstance(related_admin, BranchScopedAdminMixin):
        return related_admin.get_choices_queryset(request)
    if model is Workshop:
        return scope_to_workshops(Workshop.objects.all(), "pk", user_workshop_ids(request))
    return None


class ScopedRelatedFieldListFilter(RelatedFieldListFilter):
    """A related-field filter whose choices are limited to what the user may see."""

    def field_choices(self, field, request, model_admin):
        scoped = scoped_queryset_for_model(get_model_from_relation(field), request, model_admin.admin_site)
        if scoped is None:
            return super().field_choices(field, request, model_admin)
        ordering = self.field_admin_ordering(field, request, model_admin)
        if ordering:
            scoped = scoped.order_by(*ordering)
        return [(obj.pk, str(obj)) for obj in scoped]


class ScopedRelatedDropdownFilter(RelatedDropdownFilter):
    """Unfold's dropdown for a related field, with choices limited to what the user may see."""

    def field_choices(self, field, request, model_admin):
        return ScopedRelatedFieldListFilter.field_choices(self, field, request, model_admin)


class ScopedChoicesMixin:
    """Foreign-key and M2M choices (and accepted values) limited to the user's branches.

    For inlines, which are reached only through a scoped parent; ``BranchScopedAdminMixin``
    includes it.
    """

    def get_field_queryset(self, db: str | None, db_field: models.Field, request: HttpRequest) -> QuerySet | None:
        default = super().get_field_queryset(db, db_field, request)
        scoped = scoped_queryset_for_model(db_field.remote_field.model, request, self.admin_site)
        if scoped is None:
            return default
        if default is not None and default.query.order_by:
            scoped = scoped.order_by(*default.query.order_by)
        return scoped.using(db) if db else scoped


class BranchScopedAdminMixin(ScopedChoicesMixin):
    """Limit a ModelAdmin to the request user's branches.

    Put it first among the bases: ``class BayAdmin(BranchScopedAdminMixin, ModelAdmin)``.
    Set ``branch_path`` to the ORM path from the model to its ``Workshop``. Plain relation
    names in ``list_filter`` get scoped choices automatically; write your own filters with
    ``ScopedRelatedDropdownFilter``. Custom views and actions must fetch objects through
    ``get_queryset(request)`` (or ``get_object``), never through the model's manager.
    """

    branch_path: str = "workshop"

    # -- reading -------------------------------------------------------------------
    def scope_queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return scope_to_workshops(queryset, self.branch_path, user_workshop_ids(request))

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return self.scope_queryset(request, super().get_queryset(request))

    def get_choices_queryset(self, request: HttpRequest) -> QuerySet:
        """What a foreign key to this model may offer: scoped, without changelist extras."""
        return self.scope_queryset(request, self.model._default_manager.all())

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        # Every caller passes a scoped queryset today; scoping again keeps a future caller
        # (another admin's autocomplete, unfold's command search) from widening it.
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        return self.scope_queryset(request, queryset), may_have_duplicates

    # -- filters ---------------------------------------------------------------------
    def get_list_filter(self, request: HttpRequest):
        return [self._scoped_filter(entry) for entry in super().get_list_filter(request)]

    def _scoped_filter(self, entry: Any) -> Any:
        """A relation named by a string (``"workshop"``, ``"bay__workshop"``) gets scoped choices."""
        if not isinstance(entry, str):
            return entry
        try:
            field = get_fields_from_path(self.model, entry)[-1]
        except (FieldDoesNotExist, NotRelationField):
            return entry
        if field.is_relation:
            return (entry, ScopedRelatedDropdownFilter)
        return entry

    # -- M2M paths (Client.workshops, Service.workshops) ------------------------------
    def _branch_m2m_field(self) -> str | None:
        """The M2M field to Workshop that ``branch_path`` names directly, if any."""
        if "__" in self.branch_path or self.branch_path == "pk":
            return None
        field = self.model._meta.get_field(self.branch_path)
        if field.many_to_many and field.related_model is Workshop:
            return field.name
        return None

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial = super().get_changeform_initial_data(request)
        m2m = self._branch_m2m_field()
        ids = user_workshop_ids(request)
        if m2m and ids is not None and m2m not in initial:
            initial[m2m] = ids
        return initial

    def get_form(self, request: HttpRequest, obj: models.Model | None = None, change: bool = False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        m2m = self._branch_m2m_field()
        if m2m and m2m in form.base_fields and user_workshop_ids(request) is not None:
            form = type(form.__name__, (form,), {f"clean_{m2m}": _require_own_branch(m2m)})
        return form

    def save_related(self, request: HttpRequest, form: forms.ModelForm, formsets, change: bool) -> None:
        """Save M2M links, keeping links to branches the user cannot see (the form never showed them)."""
        m2m = self._branch_m2m_field()
        ids = user_workshop_ids(request)
        hidden: list[int] = []
        if m2m and ids is not None and change:
            hidden = list(getattr(form.instance, m2m).exclude(pk__in=ids).values_list("pk", flat=True))
        super().save_related(request, form, formsets, change)
        if hidden:
            getattr(form.instance, m2m).add(*hidden)


    # -- history --------------------------------------------------------------------
    def history_view(self, request: HttpRequest, object_id: str, extra_context: dict | None = None):
        """Django's history page; on a row two branches share, the other branch's staff are not named."""
        response = super().history_view(request, object_id, extra_context)
        ids = user_workshop_ids(request)
        if ids is None or not isinstance(response, TemplateResponse):
            return response
        colleagues = set(StaffMembership.objects.filter(workshop_id__in=ids).values_list("user_id", flat=True))
        named: dict[int, bool] = {}  # user id → may be named here (a colleague or an owner); once per user
        for entry in response.context_data["action_list"]:
            if entry.user_id not in named:
                named[entry.user_id] = entry.user_id in colleagues or user_is_owner(entry.user)
            if not named[entry.user_id]:
                # An unsaved stand-in, only for the page; the log entry itself is not changed.
                entry.user = get_user_model()(username="сотрудник другого филиала")
        return response

    # -- deleting -------------------------------------------------------------------
    def get_deleted_objects(self, objs, request: HttpRequest):
        """Django's list of what a delete takes with it; rows other branches still use are
        listed as protected, which makes both the delete page and the bulk action refuse."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        ids = user_workshop_ids(request)
        if ids is not None:
            protected = [*protected, *self.used_beyond_scope(request, [obj.pk for obj in objs], ids)]
        return deleted, counts, perms_needed, protected

    def used_beyond_scope(self, request: HttpRequest, pks: list[Any], workshop_ids: list[int]) -> list[str]:
        """What of ``pks`` a branch the user cannot see also uses, one line each: for a model linked
        to branches (a client), a link to another branch. Not named: staff do not see it."""
        m2m = self._branch_m2m_field()
        if not m2m:
            return []
        shared = self.model._default_manager.filter(
            pk__in=pks, **{f"{m2m}__in": Workshop.objects.exclude(pk__in=workshop_ids)}
        ).distinct()
        return [f"«{obj}» — есть и в другом филиале: удалить может только владелец." for obj in shared]


def _require_own_branch(field_name: str):
    def clean(self: forms.ModelForm):
        value = self.cleaned_data.get(field_name)
        if not value:
            raise forms.ValidationError("Выберите хотя бы один свой филиал — иначе запись пропадёт из вашего списка.")
        return value

    return clean


class OwnerOnlyAdminMixin:
    """An admin only owners may open: accounts, API tokens, periodic tasks."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return user_is_owner(request.user) and super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return user_is_owner(request.user) and super().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest, *args) -> bool:
        return user_is_owner(request.user) and super().has_add_permission(request, *args)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return user_is_owner(request.user) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return user_is_owner(request.user) and super().has_delete_permission(request, obj)


class CompanyWideAdminMixin:
    """Company data that belongs to no branch: staff may view it, only owners change it."""

    def has_add_permission(self, request: HttpRequest, *args) -> bool:
        return user_is_owner(request.user) and super().has_add_permission(request, *args)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return user_is_owner(request.user) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return user_is_owner(request.user) and super().has_delete_permission(request, obj)


class SelfScopedAdminMixin:
    """A page that is not a plain table of branch rows (the owner dashboard, a user's own
    Telegram link code) and scopes what it shows itself, through ``workshops.selectors``.
    Its own tests show that staff of another branch see nothing of it."""


def owner_only(request: HttpRequest) -> bool:
    """Permission callback for sidebar items and views meant for owners."""
    return user_is_owner(request.user)


__all__ = [
    "BranchScopedAdminMixin",
    "SelfScopedAdminMixin",
    "CompanyWideAdminMixin",
    "OwnerOnlyAdminMixin",
    "ScopedRelatedDropdownFilter",
    "ScopedChoicesMixin",
    "ScopedRelatedFieldListFilter",
    "owner_only",
    "scope_to_workshops",
    "scoped_queryset_for_model",
    "user_workshop_ids",
]
