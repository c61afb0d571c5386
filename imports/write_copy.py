"""PostgreSQL writer: ids from the sequences, then one ``COPY`` per table (no per-row INSERT).

Safe because ``run_import`` holds a SHARE ROW EXCLUSIVE lock on the client, phone and car
tables from planning to commit: nobody can add the phone, INN or VIN this plan decided was
free, nor delete a client or car it refers to. That, and a lock on the branch, bay and service
rows, is what lets the writer turn PostgreSQL's per-row foreign-key checks off (where the
database role may): every row it refers to exists and stays until commit. Branch
links of new clients are copied too (nobody else can see those clients yet); links of existing
clients go through ``INSERT … SELECT unnest(…) ON CONFLICT DO NOTHING`` (that table is not locked).
Timestamps are written as text: psycopg dumps an aware ``datetime`` several times slower than a string.
"""

from collections.abc import Callable
from datetime import date
from typing import Any

from django.db import connection
from django.utils import timezone

from bookings.services import import_visit_starts_at
from clients.models import Client, ClientPhone, Vehicle
from imports.errors import ImportRefused
from imports.plan import GroupPlanner, NewClient, Plan
from imports.records import RowOutcome, unpack
from imports.write import client_id_of, write_visits
from workshops.db import foreign_key_checks_skipped, lock_against_deletion, next_ids
from workshops.models import Workshop


def plan_and_write_copy(outcomes: list[RowOutcome], groups: list[list[int]], workshop: Workshop,
                        progress: Callable[[int], None]) -> Plan:
    """Plan ``groups`` and write the plan, the new clients streamed to PostgreSQL while later groups
    are planned: the server indexes them (a second for 80,000 names) while Python plans the rest."""
    with connection.cursor() as cursor, foreign_key_checks_skipped(cursor):
        if not lock_against_deletion(cursor, Workshop, [workshop.pk]):
            raise ImportRefused("Филиал удалили во время загрузки: ничего не записано.")
        planner = GroupPlanner.load(outcomes, groups, workshop)  # no query can run once the COPY is open
        ids = iter(next_ids(cursor, Client, planner.new_clients_ahead(groups)))
        with cursor.copy(_CLIENTS_COPY) as copy:
            row = _ClientRow(workshop)
            for group in groups:
                client = planner.plan_group(group)
                if client is not None:
                    client.id = next(ids)
                    copy.write_row(row(client))
        plan = planner.plan
        progress(65)
        _write_the_rest(cursor, plan, workshop)
        write_updates_copy(plan)
        progress(75)
        write_visits(plan, workshop, copy=True)
        progress(90)
    return plan


_CLIENTS_COPY = (f"COPY {Client._meta.db_table} (id, name, kind, inn, email, comment, telegram_username, "
                 "first_visit_at, created_at, updated_at) FROM STDIN")


class _ClientRow:
    """A new client as a ``COPY`` row. Written with its first visit: the visits' ``UPDATE`` then leaves
    it alone (it only moves the date earlier), instead of rewriting every row just copied."""

    def __init__(self, workshop: Workshop) -> None:
        self.now, self.tz = timezone.now().isoformat(), workshop.tz
        self.first_visits: dict[date, str] = {}  # day → its visit's start as text (a file has a few thousand days)

    def __call__(self, c: NewClient) -> tuple:
        first = None
        if c.first_visit is not None:
            first = self.first_visits.get(c.first_visit)
            if first is None:
                first = self.first_visits[c.first_visit] = import_visit_starts_at(c.first_visit, self.tz).isoformat()
        return (c.id, c.name, c.kind, c.inn, c.email, c.comment, "", first, self.now, self.now)


def _write_the_rest(cursor: Any, plan: Plan, workshop: Workshop) -> None:
    """Phones, branch links and cars of the plan, its new clients already written."""
    now = timezone.now().isoformat()
    with cursor.copy(f"COPY {ClientPhone._meta.db_table} (client_id, number, extension, position) FROM STDIN") as copy:
        for c in plan.new_clients:
            for position, (number, ext) in enumerate(unpack(c.phones)):
                copy.write_row((c.id, number, ext[:10], position))
        for client_id, number, ext, position in plan.new_phones:
            copy.write_row((client_id, number, ext[:10], position))
    link_table = Client.workshops.through._meta.db_table
    with cursor.copy(f"COPY {link_table} (client_id, workshop_id) FROM STDIN") as copy:
        for ref in plan.links:
            if isinstance(ref, NewClient):
                copy.write_row((ref.id, workshop.pk))
    existing = sorted({ref for ref in plan.links if not isinstance(ref, NewClient)})
    if existing:
        cursor.execute(f"INSERT INTO {link_table} (client_id, workshop_id) SELECT c, %s "
                       "FROM unnest(%s::bigint[]) AS c ON CONFLICT DO NOTHING", [workshop.pk, existing])
    for vehicle, pk in zip(plan.new_vehicles, next_ids(cursor, Vehicle, len(plan.new_vehicles))):
        vehicle.id = pk
    with cursor.copy(f"COPY {Vehicle._meta.db_table} (id, client_id, make, model, plate, vin, year, mileage_km, "
                     "created_at) FROM STDIN") as copy:
        for v in plan.new_vehicles:
            copy.write_row((v.id, client_id_of(v.client), v.make, v.model, v.plate, v.vin, v.year, v.mileage_km, now))


def write_updates_copy(plan: Plan) -> None:
    """Fill empty fields of existing clients and cars with one ``UPDATE … FROM unnest(…)`` per table."""
    now = timezone.now()
    with connection.cursor() as cursor:
        if plan.client_updates:
            ids = list(plan.client_updates)
            columns = ("inn", "email", "comment", "kind")
            arrays = [[plan.client_updates[i].get(c) for i in ids] for c in columns]
            cursor.execute(
                f"UPDATE {Client._meta.db_table} AS c SET inn = COALESCE(u.inn, c.inn), "
                "email = COALESCE(u.email, c.email), comment = COALESCE(u.comment, c.comment), "
                "kind = COALESCE(u.kind, c.kind), updated_at = %s "
                "FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[]) AS u(id, inn, email, comment, kind) "
                "WHERE c.id = u.id",
                [now, ids, *arrays],
            )
        if plan.vehicle_updates:
            ids = list(plan.vehicle_updates)
            columns = ("vin", "plate", "make", "model", "year", "mileage_km")
            arrays = [[plan.vehicle_updates[i].get(c) for i in ids] for c in columns]
            cursor.execute(
                f"UPDATE {Vehicle._meta.db_table} AS v SET vin = COALESCE(u.vin, v.vin), plate = COALESCE(u.plate, v.plate), "
                "make = COALESCE(u.make, v.make), model = COALESCE(u.model, v.model), year = COALESCE(u.year, v.year), "
                "mileage_km = COALESCE(u.mileage_km, v.mileage_km) "
                "FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[], %s::int[], %s::int[]) "
                "AS u(id, vin, plate, make, model, year, mileage_km) WHERE v.id = u.id",
                [ids, *arrays],
            )
