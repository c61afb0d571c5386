"""The trigram index (clients migration 0003) serves the name search exactly as admin runs it.

Not a timing: the planner is asked whether it *can* answer the selector's query from the
index. The index is on ``UPPER(name)``, the expression Django writes for ``icontains``; if
either side changed (another lookup, another expression), every name search in admin would
read the whole clients table again, and only this test would notice before production.
"""

from django.db import connection, transaction

from clients.models import Client
from clients.selectors import client_search_q
from tests.factories import ClientFactory


def plan(queryset) -> str:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a handful of test rows: a scan would win anyway
        return queryset.explain()


def test_the_admins_name_search_can_use_the_trigram_index(db):
    ClientFactory(name="Анна Сергеевна Ёжикова")
    ids = Client.objects.filter(client_search_q("сергеев ёжик")).order_by().values_list("pk", flat=True)[:500]
    assert "client_name_trgm_idx" in plan(ids)
    assert len(ids) == 1
