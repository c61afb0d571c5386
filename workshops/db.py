"""PostgreSQL helpers for the bulk writers (the client import and the booking service it calls)."""

from typing import Any


def next_ids(cursor: Any, model: Any, count: int) -> list[int]:
    """``count`` fresh primary keys of ``model`` from its sequence, in order.

    For rows written with ``COPY``, which returns nothing: rows that refer to them (phones,
    history) are written knowing their ids.
    """
    if not count:
        return []
    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [model._meta.db_table])
    sequence = cursor.fetchone()[0]
    # The sequence resolved once (pg_get_serial_sequence() in the select list runs per row: 4× slower);
    # one array back instead of 100,000 one-column rows.
    cursor.execute("SELECT array_agg(id ORDER BY id) FROM (SELECT nextval(%s::regclass) AS id "
                   "FROM generate_series(1, %s)) AS fresh", [sequence, count])
    return cursor.fetchone()[0]
