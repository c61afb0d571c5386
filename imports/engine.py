"""The import engine: validate everything first, then resolve identities, then write in one transaction.

Identity (README rule 4): records sharing a valid phone (E.164, extension ignored) or a
checksum-valid INN are one client, transitively, within the file and with what the
database already holds. Names are never used. An existing client is never overwritten:
only empty fields are filled, and every difference left alone is reported as a conflict.
"""

import ctypes
import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from imports.errors import FileTooLarge
from imports.plan import NewClient, Plan, build_plan
from imports.readers import read_records, shown_loc
from imports.records import IMPORTED_STATUSES, REJECTED, SKIPPED, RowOutcome
from imports.validate import Validator
from workshops.models import Workshop

Progress = Callable[[int], None]


@dataclass
class ImportResult:
    """Per-row outcomes (file order), the summary shown to staff, and what was learned about the file."""

    outcomes: list[RowOutcome]
    summary: dict[str, Any]
    info: dict[str, Any] = field(default_factory=dict)


def _root(parent: dict[int, int], item: int) -> int:
    """Union-find: the smallest index of ``item``'s set (paths halved on the way).

    ``parent`` holds only the rows that were joined to an earlier one; any other row is its own
    root (most rows of a big file: no list of 100,000 indexes pointing at themselves).
    """
    while (up := parent.get(item)) is not None:
        grand = parent.get(up)
        if grand is None:
            return up
        parent[item] = item = grand
    return item


def group_in_file(outcomes: list[RowOutcome]) -> list[list[int]]:
    """Indexes of imported outcomes grouped by shared phone or INN (transitively), in file order.

    Adds a ``duplicate_in_file`` warning to a record that repeats an earlier record's phone or
    INN (unless it is the same source object, e.g. a repeat buyer on a web shop).
    """
    parent: dict[int, int] = {}  # union-find over outcome indexes; a set's root is its first row
    first_owner: dict[str, int] = {}
    imported: list[int] = []
    for index, outcome in enumerate(outcomes):
        if not outcome.imported:
            continue
        imported.append(index)
        repeated = False
        for key in ([p for p, _ in outcome.phones] + ["inn:" + outcome.inn] if outcome.inn
                    else [p for p, _ in outcome.phones]):
            owner = first_owner.setdefault(key, index)
            if owner != index:
                ra, rb = _root(parent, owner), _root(parent, index)
                if ra != rb:
                    parent[max(ra, rb)] = min(ra, rb)
                if not (outcome.source_id and outcome.source_id == outcomes[owner].source_id):
                    repeated = True
        if repeated and not any(code in ("duplicate_object", "same_phone_other_id") for code, _ in outcome.warnings):
            outcome.warn("duplicate_in_file", "Тот же телефон или ИНН, что у строки выше — это один клиент.")
    del first_owner
    groups: dict[int, list[int]] = {}
    for index in imported:
        root = _root(parent, index)
        members = groups.get(root)
        if members is None:
            groups[root] = [index]
        else:
            members.append(index)
    return list(groups.values())


@contextmanager
def _cycle_collection_paused() -> Iterator[None]:
    """Python's cycle collector off for the import, back on after.

    A 100,000-row file makes a few million small objects that live to the end and form no
    reference cycles: the collector would walk them all again every time enough new ones
    pile up (a second of such an import) and free nothing. Reference counting still frees
    everything else as usual.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _return_freed_memory() -> None:
    """Hand the memory the file's reader freed back to the system, where the C library allows it.

    python-calamine holds a whole sheet (45 MB for 100,000 rows) in many small native pieces
    until the last row is read; glibc keeps such freed pieces for later mallocs, which Python's
    own small objects never use: without this, an XLSX import's peak is 10 MB higher.
    """
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (AttributeError, OSError):  # not glibc: nothing to ask
        pass


def _lock_client_tables() -> None:
    """Keep other writers from adding, changing or deleting clients, phones and cars while the
    plan is made and written (a few seconds); reading them goes on."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("LOCK TABLE clients_client, clients_clientphone, clients_vehicle IN SHARE ROW EXCLUSIVE MODE")


def run_import(
    *,
    data: bytes,
    filename: str,
    workshop: Workshop,
    dry_run: bool = False,
    mapping: dict[int, str] | None = None,
    header_row: int | None = None,
    progress: Progress | None = None,
    today: date | None = None,
    writer: str = "auto",
) -> ImportResult:
    """Read, validate and (unless ``dry_run``) write one file into ``workshop``.

    Raises ``ImportRefused`` for a file that cannot be read at all; nothing is written then.
    ``writer`` is ``"copy"`` (PostgreSQL COPY), ``"orm"`` (any database) or ``"auto"``.
    """
    with _cycle_collection_paused():
        today = today or timezone.localdate(timezone=workshop.tz)  # a Kamchatka branch's morning is Moscow's yesterday
        report = progress or (lambda _percent: None)
        records, info = read_records(data, filename, mapping=mapping, header_row=header_row)
        report(10)
        validate = Validator(today)
        try:
            # Big files are read while they are validated: only the outcomes are kept.
            outcomes = [validate(record) for record in records]
        except MemoryError:
            raise FileTooLarge("Файл слишком велик, чтобы прочитать его целиком. Разбейте его на части.") from None
        del records
        _return_freed_memory()
        report(30)
        groups = group_in_file(outcomes)
        if dry_run:
            plan = build_plan(outcomes, groups, workshop)
        else:
            with transaction.atomic():
                _lock_client_tables()
                report(50)
                from imports.write import plan_and_write

                plan = plan_and_write(outcomes, groups, workshop, writer=writer, progress=report)
            for group, ref in zip(groups, plan.group_clients):
                client_id = ref.id if isinstance(ref, NewClient) else ref
                for index in group:
                    outcomes[index].client_id = client_id
        report(95)
        return ImportResult(outcomes=outcomes, summary=summarise(outcomes, plan, info, dry_run=dry_run), info=info)


def summarise(outcomes: list[RowOutcome], plan: Plan, info: dict[str, Any], *, dry_run: bool) -> dict[str, Any]:
    """Counts and lists staff read after (or, for a dry run, before) the import."""
    from imports.limits import PREVIEW_PROBLEM_ROWS

    counts = {status: 0 for status in (*IMPORTED_STATUSES, SKIPPED, REJECTED)}
    problems = []
    problems_total = warnings_total = 0
    for outcome in outcomes:  # one pass: a big file has 100,000
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
        if outcome.status != REJECTED and not outcome.warnings:
            continue
        problems_total += 1
        warnings_total += len(outcome.warnings)
        if len(problems) < PREVIEW_PROBLEM_ROWS:
            problems.append({
                "loc": shown_loc(outcome.loc), "line": outcome.line, "status": outcome.status, "reason_code": outcome.reason_code,
                "reason": outcome.reason, "column": outcome.column, "value": outcome.value, "name": outcome.name,
                "warnings": [message for _code, message in outcome.warnings],
            })
    return {
        "dry_run": dry_run,
        "format": info.get("format", ""),
        "sheet": info.get("sheet", ""),
        "header_row": info.get("header_row"),
        "columns": info.get("columns", []),
        "notes": info.get("notes", []) + plan.notes,
        "rows_total": len(outcomes),
        "data_rows": len(outcomes) - counts[SKIPPED],
        "counts": counts,
        "imported": sum(counts[s] for s in IMPORTED_STATUSES),
        "clients_in_file": plan.clients_in_file,
        "clients_created": plan.clients_created,
        "clients_updated": plan.clients_updated,
        "clients_matched": plan.clients_matched,
        "phones_added": plan.phones_added,
        "vehicles_created": len(plan.new_vehicles),
        "vehicles_updated": len(plan.vehicle_updates),
        "visits_planned": len(plan.visits),
        "visits_created": plan.visits_created,
        "links_added": len(plan.links),
        "warnings_total": warnings_total,
        "conflicts": [{**c, "loc": shown_loc(c["loc"])} for c in plan.conflicts[:PREVIEW_PROBLEM_ROWS]],
        "conflicts_total": plan.conflicts_total,
        "problems": problems,
        "problems_total": problems_total,
    }
