"""Drop ``booking_client_completed_idx`` (added by 0002): the reports no longer probe it.

«Returning client» is now read from ``Client.first_visit_at`` (clients migration 0002),
which the booking services keep. The index served only the per-visit «earlier completed
visit?» probes that the field replaces, and cost every completed booking an index entry.
"""

from django.db import migrations


def drop(apps, schema_editor) -> None:
    schema_editor.execute("DROP INDEX IF EXISTS booking_client_completed_idx")


def create(apps, schema_editor) -> None:
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS booking_client_completed_idx "
        "ON bookings_booking (client_id, starts_at) WHERE status = 'completed'"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0002_booking_report_indexes"),
        ("clients", "0002_client_first_visit_at"),
    ]

    operations = [migrations.RunPython(drop, create)]
