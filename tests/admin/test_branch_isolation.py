"""For every registered ModelAdmin: a manager of Альфа sees and changes nothing of Бета.

The admins are read from ``admin.site._registry``, so an admin added later is checked
too; one that builds on none of the ``workshops.admin_scope`` mixins fails the first test.
"""

import pytest
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import models
from django.forms.models import model_to_dict
from django.test import RequestFactory
from django.urls import reverse
from unfold.admin import ModelAdmin as UnfoldModelAdmin

from bookings.models import Booking, BookingHistory
from tests.admin.conftest import MARKER
from workshops.admin_scope import (
    BranchScopedAdminMixin,
    CompanyWideAdminMixin,
    OwnerOnlyAdminMixin,
    SelfScopedAdminMixin,
)

REGISTRY = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)
SCOPED = [pytest.param(m, id=m._meta.label) for m, a in REGISTRY if isinstance(a, BranchScopedAdminMixin)]
OWNER_ONLY = [pytest.param(m, id=m._meta.label) for m, a in REGISTRY if isinstance(a, OwnerOnlyAdminMixin)]


def url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def snapshot(obj: models.Model) -> dict:
    """What a write could change: the row itself, and for bookings their history."""
    fresh = type(obj)._default_manager.filter(pk=obj.pk).first()
    state = {"row": model_to_dict(fresh) if fresh else None}
    if isinstance(obj, Booking):
        state["history"] = BookingHistory.objects.filter(booking=obj).count()
    return state


@pytest.mark.parametrize(("model", "model_admin"), REGISTRY, ids=[m._meta.label for m, _ in REGISTRY])
def test_every_admin_is_unfold_and_declares_who_may_see_it(model, model_admin):
    assert isinstance(model_admin, UnfoldModelAdmin), f"{model._meta.label}: build on unfold.admin.ModelAdmin"
    assert isinstance(
        model_admin, (BranchScopedAdminMixin, OwnerOnlyAdminMixin, CompanyWideAdminMixin, SelfScopedAdminMixin)
    ), (
        f"{model._meta.label}: use a mixin from workshops.admin_scope"
    )


@pytest.mark.parametrize("model", SCOPED)
def test_the_list_shows_nothing_of_another_branch(model, alpha, beta, manager_client):
    response = manager_client.get(url(model, "changelist"))
    assert response.status_code == 200
    shown = {obj.pk for obj in response.context["cl"].result_list}
    assert alpha.objects[model].pk in shown
    assert beta.objects[model].pk not in shown
    assert MARKER not in response.content.decode(), "nothing of Бета in rows, filters or choices"


@pytest.mark.parametrize("model", SCOPED)
def test_the_owner_sees_every_branch(model, alpha, beta, owner_client):
    response = owner_client.get(url(model, "changelist"))
    shown = {obj.pk for obj in response.context["cl"].result_list}
    assert {alpha.objects[model].pk, beta.objects[model].pk} <= shown


@pytest.mark.parametrize("view", ["change", "history", "delete"])
@pytest.mark.parametrize("model", SCOPED)
def test_urls_of_another_branchs_object_show_nothing(model, view, alpha, beta, manager_client):
    response = manager_client.get(url(model, view, beta.objects[model].pk), follow=True)
    assert response.status_code in (200, 403, 404)
    assert MARKER not in response.content.decode()
    if response.status_code == 200:
        assert response.redirect_chain, "another branch's object is never rendered"


@pytest.mark.parametrize("model", SCOPED)
def test_a_post_to_another_branchs_change_url_changes_nothing(model, alpha, beta, manager_client):
    target = beta.objects[model]
    before = snapshot(target)
    manager_client.post(url(model, "change", target.pk), {"name": "Взлом", "comment": "Взлом"})
    manager_client.post(url(model, "delete", target.pk), {"post": "yes"})
    assert snapshot(target) == before


@pytest.mark.parametrize("model", SCOPED)
def test_the_add_form_offers_nothing_of_another_branch(model, alpha, beta, manager_client):
    response = manager_client.get(url(model, "add"))
    if response.status_code == 403:
        return  # this user may not add these at all
    assert response.status_code == 200
    assert MARKER not in response.content.decode()
    beta_objects = {(type(obj), obj.pk) for obj in beta.objects.values()}
    # A custom add page (the import upload) has its own form rather than an admin form.
    form = response.context["adminform"].form if "adminform" in response.context else response.context["form"]
    for name, form_field in form.fields.items():
        queryset = getattr(form_field, "queryset", None)
        if queryset is None:
            continue
        offered = {(queryset.model, pk) for pk in queryset.values_list("pk", flat=True)}
        assert not offered & beta_objects, f"{model._meta.label}.{name} offers Бета's objects"


def relation_fields(model):
    return [f for f in model._meta.get_fields() if f.is_relation and f.concrete and f.related_model is not None]


@pytest.mark.parametrize("model", SCOPED)
def test_autocomplete_answers_nothing_of_another_branch(model, alpha, beta, manager_client):
    for source_field in relation_fields(model):
        target_admin = admin.site._registry.get(source_field.related_model)
        if target_admin is None or not target_admin.search_fields:
            continue
        for term in ("", MARKER, "Клиент", "7912"):
            response = manager_client.get(
                reverse("admin:autocomplete"),
                {"app_label": model._meta.app_label, "model_name": model._meta.model_name,
                 "field_name": source_field.name, "term": term},
            )
            if response.status_code != 200:
                assert response.status_code in (403, 404)
                continue
            assert MARKER not in response.content.decode()
            ids = {int(row["id"]) for row in response.json()["results"]}
            beta_target = beta.objects.get(source_field.related_model)
            if beta_target is not None:
                assert beta_target.pk not in ids


@pytest.mark.parametrize("model", SCOPED)
def test_actions_posted_with_another_branchs_ids_change_nothing(model, alpha, beta, manager, manager_client):
    request = RequestFactory().get("/")
    request.user = manager
    model_admin = admin.site._registry[model]
    target = beta.objects[model]
    before = snapshot(target)
    for name in model_admin.get_actions(request):
        response = manager_client.post(
            url(model, "changelist"),
            {"action": name, ACTION_CHECKBOX_NAME: [str(target.pk)], "index": 0, "post": "yes"},
            follow=True,
        )
        assert MARKER not in response.content.decode()
    for detail in model_admin._get_base_actions_detail():
        response = manager_client.post(
            reverse(f"admin:{detail.action_name}", args=[target.pk]), {"_form_submitted": "on", "reason": "Взлом"}
        )
        assert response.status_code in (403, 404)
    assert snapshot(target) == before


@pytest.mark.parametrize("model", SCOPED)
def test_filter_lookups_for_another_branch_show_nothing(model, alpha, beta, manager_client):
    response = manager_client.get(url(model, "changelist"), {"workshop__id__exact": beta.workshop.pk})
    if response.status_code == 200 and "cl" in response.context:
        assert beta.objects[model].pk not in {obj.pk for obj in response.context["cl"].result_list}
    assert MARKER not in response.content.decode()


@pytest.mark.parametrize("model", OWNER_ONLY)
def test_owner_only_pages_are_closed_to_a_manager(model, alpha, beta, manager_client):
    assert manager_client.get(url(model, "changelist")).status_code == 403
    assert manager_client.get(url(model, "add")).status_code == 403


def test_a_manager_cannot_open_the_user_of_another_branch(alpha, beta, manager_client):
    staff_of_beta = beta.membership.user
    response = manager_client.get(url(type(staff_of_beta), "change", staff_of_beta.pk))
    assert response.status_code == 403


def test_company_requisites_are_readable_but_only_owners_change_them(manager_client, owner_client, alpha):
    from workshops.models import Company

    company = Company.objects.create(name="ООО «Мотор»")
    assert manager_client.get(url(Company, "change", company.pk)).status_code == 200
    manager_client.post(url(Company, "change", company.pk), {"name": "Взлом"})
    company.refresh_from_db()
    assert company.name == "ООО «Мотор»"
    owner_client.post(url(Company, "change", company.pk), {"name": "ООО «Мотор-2»"})
    company.refresh_from_db()
    assert company.name == "ООО «Мотор-2»"


@pytest.mark.parametrize("model", OWNER_ONLY)
def test_owner_only_pages_open_for_the_owner(model, owner_client):
    assert owner_client.get(url(model, "changelist")).status_code == 200
    assert owner_client.get(url(model, "add")).status_code == 200


@pytest.mark.parametrize("model", SCOPED)
def test_the_owner_can_open_every_page(model, alpha, beta, owner_client):
    # follow=True: an import job's change page leads to its preview.
    assert owner_client.get(url(model, "change", beta.objects[model].pk), follow=True).status_code == 200
    assert owner_client.get(url(model, "history", beta.objects[model].pk)).status_code == 200
    assert owner_client.get(url(model, "add")).status_code in (200, 403)
