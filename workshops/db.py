"""PostgreSQL helpers for the bulk writers (the client import and the booking service it calls)."""

from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.db import DatabaseError, connection, transaction


def next_ids(cursor: Any, model: Any, count: int) -> Sequence[int]:
    """``count`` fresh primary keys of ``model`` from its sequence, in order.

    For rows written with ``COPY``, which returns nothing: rows that refer to them (phones,
    history) are written knowing their ids. Normally one unbroken series, given as a ``range``
    (100,000 ids would be a 4 MB list); a list where other sessions took numbers in between.
    """
    if not count:
        return range(0)
    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [model._meta.db_table])
    sequence = cursor.fetchone()[0]
    # The sequence resolved once (pg_get_serial_sequence() in the select list runs per row: 4× slower);
    # the whole list only when the series is broken.
    cursor.execute("SELECT min(id), max(id), CASE WHEN max(id) - min(id) + 1 = count(*) THEN NULL "
                   "ELSE array_agg(id ORDER BY id) END FROM (SELECT nextval(%s::regclass) AS id "
                   "FROM generate_series(1, %s)) AS fresh", [sequence, count])
    first, last, listed = cursor.fetchone()
    return range(first, last + 1) if listed is None else listed


@contextmanager
def foreign_key_checks_skipped(cursor: Any) -> Iterator[bool]:
    """Inside the current transaction, PostgreSQL's per-row foreign-key checks off, if the role may.

    Each row that refers to another costs a look-up and a row lock at commit: a 100,000-row
    import makes about 950,000 such checks, a third of its time. The bulk writers check
    instead, once for the whole set, what those look-ups would: every row they refer to is
    created in the same transaction or locked against deletion until commit
    (``lock_against_deletion``, or the import's table locks). ``session_replication_role``
    (what ``pg_restore --disable-triggers`` uses) needs a superuser or, since PostgreSQL 15,
    ``GRANT SET ON PARAMETER``; a role without it keeps the checks. Yields whether they are off.
    Only ``SET LOCAL``: the checks come back at the end of the block, or of the transaction.
    """
    if not connection.in_atomic_block:  # SET LOCAL would end with its own statement
        yield False
        return
    try:
        with transaction.atomic():  # a savepoint: a refusal must not abort the caller's transaction
            cursor.execute("SET LOCAL session_replication_role = replica")
    except DatabaseError:
        yield False
        return
    yield True
    cursor.execute("SET LOCAL session_replication_role = origin")


def lock_against_deletion(cursor: Any, model: Any, ids: Collection[int]) -> bool:
    """``FOR KEY SHARE`` on the rows of ``model`` with ``ids``, the lock a foreign-key check takes on
    each: nobody can delete them (or change their key) before commit. False if one is already gone."""
    wanted = set(ids)
    if not wanted:
        return True
    cursor.execute(f"SELECT count(*) FROM (SELECT 1 FROM {model._meta.db_table} "
                   "WHERE id = ANY(%s::bigint[]) FOR KEY SHARE) AS locked", [sorted(wanted)])
    return cursor.fetchone()[0] == len(wanted)
