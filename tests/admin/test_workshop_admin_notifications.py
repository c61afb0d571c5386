"""A manager sets where the branch's booking news goes, on the branch's page."""

from django.urls import reverse

from tests.factories import MembershipFactory, UserFactory, WorkshopFactory


def test_the_branch_page_shows_the_notification_settings(client, db):
    workshop = WorkshopFactory(name="СТО Центр")
    owner = UserFactory(is_superuser=True)
    MembershipFactory(user=owner, workshop=workshop)
    client.force_login(owner)
    page = client.get(reverse("admin:workshops_workshop_change", args=[workshop.pk])).content.decode()
    for field in ("manager_telegram_chat_id", "manager_emails", "reminder_offsets_hours"):
        assert f'name="{field}"' in page
