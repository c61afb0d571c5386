"""Indexes on bookings that the owner reports need at scale (benchmarks/bench_reports.py).

They live here, not in ``bookings``, because only the reports read through them:

* ``booking_client_completed_idx`` — ``(client_id, starts_at) WHERE status = 'completed'``:
  «did this client have an earlier completed visit?» (returning clients) becomes one
  index-only probe per visit instead of a walk over the client's bookings and their rows.
* ``booking_report_covering_idx`` — ``(id) INCLUDE (workshop_id, channel, service_id)``
  (PostgreSQL only): cancellations and no-shows are counted from the status history, and
  each history row needs its booking's branch, channel and service; with this index the
  planner looks them up index-only instead of hash-joining a sequential scan of every booking.
"""

from django.db import migrations

INDEXES = {
    "booking_client_completed_idx": (
        "CREATE INDEX IF NOT EXISTS booking_client_completed_idx "
        "ON bookings_booking (client_id, starts_at) WHERE status = 'completed'"
    ),
    "booking_report_covering_idx": (
        "CREATE INDEX IF NOT EXISTS booking_report_covering_idx "
        "ON bookings_booking (id) INCLUDE (workshop_id, channel, service_id)"
    ),
}
POSTGRESQL_ONLY = {"booking_report_covering_idx"}


def create(apps, schema_editor) -> None:
    for name, sql in INDEXES.items():
        if name not in POSTGRESQL_ONLY or schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)


def drop(apps, schema_editor) -> None:
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0001_subscriptions_and_dashboard"),
        ("bookings", "0001_initial"),
    ]

    operations = [migrations.RunPython(create, drop)]
