"""A trigram index for finding clients by part of a name (PostgreSQL only).

Staff search by any part of a name («петров», «ива»): ``client_search_q`` asks
``name__icontains`` for each word, which Django writes on PostgreSQL as
``UPPER("clients_client"."name"::text) LIKE UPPER('%…%')``. A b-tree cannot serve a
``LIKE`` with a leading ``%``, so every search read all the clients (≈ 50 ms at 100,000,
BENCHMARKS.md). A GIN index of ``pg_trgm`` trigrams on that same expression serves it:
the index expression must be ``UPPER(name)`` for the planner to match the admin's query.

The index lives here and not in ``Client.Meta``: SQLite (the demo) has neither GIN nor
``pg_trgm``, and an index declared in Meta would be created there too. So this migration
does not change the migration state (``makemigrations`` sees nothing to do), and on SQLite
both operations do nothing, either way.
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

INDEX = "client_name_trgm_idx"


class PostgresTrigramExtension(TrigramExtension):
    """``CREATE EXTENSION pg_trgm``; Django's operation skips other databases forwards but not backwards."""

    def database_backwards(self, app_label, schema_editor, from_state, to_state) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


def create(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON clients_client USING gin (UPPER(name) gin_trgm_ops)"
        )


def drop(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("clients", "0002_client_first_visit_at"),
    ]

    operations = [
        PostgresTrigramExtension(),
        migrations.RunPython(create, drop),
    ]
