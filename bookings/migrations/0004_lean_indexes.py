"""Fewer indexes on bookings and their history: every booking written pays for each one.

* The single-column indexes of ``workshop``, ``bay`` and ``client`` go: the composite
  ``(…, starts_at)`` indexes lead with the same column and serve the same look-ups.
* ``created_by`` / ``by_user`` are indexed only where set (staff entries), for ``SET_NULL``.
* The history's ``(to_status, at)`` index keeps only status changes, what reports read.

The fields' ``db_index=False`` is state only: Django's ``AlterField`` would drop and re-add
each foreign key constraint (a scan of the whole table each) just to drop an index, so the
indexes are dropped by name, looked up the way Django created them.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


SINGLE_COLUMN = {"bookings_booking": ["workshop_id", "bay_id", "client_id", "created_by_id"],
                 "bookings_bookinghistory": ["by_user_id"]}


def drop_single_column_indexes(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        for table, columns in SINGLE_COLUMN.items():
            for name, info in connection.introspection.get_constraints(cursor, table).items():
                if (info["index"] and not info["unique"] and not info["primary_key"] and not info["foreign_key"]
                        and len(info["columns"]) == 1 and info["columns"][0] in columns):
                    schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")


def create_single_column_indexes(apps, schema_editor):
    for table, columns in SINGLE_COLUMN.items():
        for column in columns:
            schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {schema_editor.quote_name(table + '_' + column)} "
                                  f"ON {schema_editor.quote_name(table)} ({schema_editor.quote_name(column)})")


class Migration(migrations.Migration):

    dependencies = [
        ('bookings', '0003_merge_20261124_1950'),
        ('workshops', '0002_branch_notification_settings_and_staff_telegram_link'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='booking',
                    name='bay',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='bookings', to='workshops.bay', verbose_name='пост'),
                ),
                migrations.AlterField(
                    model_name='booking',
                    name='client',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='bookings', to='clients.client', verbose_name='клиент'),
                ),
                migrations.AlterField(
                    model_name='booking',
                    name='created_by',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='создал'),
                ),
                migrations.AlterField(
                    model_name='booking',
                    name='workshop',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='bookings', to='workshops.workshop', verbose_name='филиал'),
                ),
                migrations.AlterField(
                    model_name='bookinghistory',
                    name='by_user',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='сотрудник'),
                ),
            ],
            database_operations=[migrations.RunPython(drop_single_column_indexes, create_single_column_indexes)],
        ),
        migrations.RemoveIndex(
            model_name='bookinghistory',
            name='history_status_at_idx',
        ),
        migrations.AddIndex(
            model_name='booking',
            index=models.Index(condition=models.Q(('created_by__isnull', False)), fields=['created_by'], name='booking_created_by_idx'),
        ),
        migrations.AddIndex(
            model_name='bookinghistory',
            index=models.Index(condition=models.Q(('event', 'status')), fields=['to_status', 'at'], name='history_status_at_idx'),
        ),
        migrations.AddIndex(
            model_name='bookinghistory',
            index=models.Index(condition=models.Q(('by_user__isnull', False)), fields=['by_user'], name='history_by_user_idx'),
        ),
    ]
