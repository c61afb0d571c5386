"""workshops.admin_scope: the scoping layer other admins (reports, imports) build on."""

from datetime import timedelta

import factory
from django.contrib import admin
from django.test import RequestFactory
from django.utils import timezone
from unfold.admin import ModelAdmin

from bookings.models import Booking
from clients.models import Client
from tests import factories
from tests.factories import BayFactory, ClientFactory, MembershipFactory, UserFactory, WorkshopFactory
from workshops.admin_scope import BranchScopedAdminMixin, ScopedRelatedDropdownFilter, scope_to_workshops
from workshops.models import Workshop


class BookingFactory(factories.BookingFactory):
    """Existing bookings a week apart, in aware time."""

    starts_at = factory.Sequence(lambda n: timezone.now() + timedelta(days=7 * n + 1))


def test_a_foreign_key_path_keeps_rows_of_the_given_branches(db):
    north, south = WorkshopFactory(), WorkshopFactory()
    mine = BookingFactory(workshop=north)
    BookingFactory(workshop=south)
    assert list(scope_to_workshops(Booking.objects.all(), "workshop", [north.pk])) == [mine]


def test_a_path_through_a_relation_is_followed(db):
    north, south = WorkshopFactory(), WorkshopFactory()
    mine = BookingFactory(workshop=north, bay=BayFactory(workshop=north))
    BookingFactory(workshop=south, bay=BayFactory(workshop=south))
    assert list(scope_to_workshops(Booking.objects.all(), "bay__workshop", [north.pk])) == [mine]


def test_a_many_to_many_path_lists_a_row_linked_twice_once(db):
    north, south, east = WorkshopFactory(), WorkshopFactory(), WorkshopFactory()
    both = ClientFactory()
    both.workshops.add(north, south)
    ClientFactory().workshops.add(east)
    scoped = scope_to_workshops(Client.objects.all(), "workshops", [north.pk, south.pk])
    assert list(scoped) == [both]


def test_none_means_every_branch(db):
    WorkshopFactory(), WorkshopFactory()
    assert scope_to_workshops(Workshop.objects.all(), "pk", None).count() == 2


def test_the_mixin_scopes_a_new_admin_and_its_path_filters(db):
    """What another engineer gets by adding the mixin to a new admin: rows and filter choices."""

    class BookingsByBayAdmin(BranchScopedAdminMixin, ModelAdmin):
        branch_path = "bay__workshop"
        list_filter = ("bay__workshop", "status")

    north, south = WorkshopFactory(), WorkshopFactory()
    user = UserFactory()
    MembershipFactory(user=user, workshop=north)
    mine = BookingFactory(workshop=north, bay=BayFactory(workshop=north))
    BookingFactory(workshop=south, bay=BayFactory(workshop=south))
    request = RequestFactory().get("/")
    request.user = user
    model_admin = BookingsByBayAdmin(Booking, admin.site)
    assert list(model_admin.get_queryset(request)) == [mine]
    assert model_admin.get_list_filter(request) == [("bay__workshop", ScopedRelatedDropdownFilter), "status"]
