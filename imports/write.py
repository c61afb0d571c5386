"""Writing a plan: one pass per table, inside the caller's transaction.

Two writers with the same result: ``orm`` (``bulk_create``/``bulk_update``; any database,
used by the SQLite demo) and ``copy`` (PostgreSQL ``COPY``, for files of 100,000 rows).
"""

from collections.abc import Callable, Container

from django.db import connection
from django.utils import timezone

from bookings.services import (
    booking_import_visits_bulk,
    booking_import_visits_copy,
    import_visit_service,
    import_visit_starts_at,
)
from clients.models import Client, ClientPhone, Vehicle
from imports.plan import ClientRef, NewClient, NewVehicle, Plan, VehicleRef, build_plan
from imports.records import RowOutcome, unpack
from workshops.models import Workshop

BATCH = 5000


def client_id_of(ref: ClientRef) -> int:
    """The id of a plan's client reference: an existing client's id, or a written new client's."""
    return ref.id if isinstance(ref, NewClient) else ref  # type: ignore[return-value]


def _vehicle_id(ref: VehicleRef) -> int | None:
    if ref is None:
        return None
    return ref.id if isinstance(ref, NewVehicle) else ref


def _ids(clients: list[NewClient]) -> Container[int]:
    """The ids of ``clients``, written: one sequence series gives them in order, normally with no
    gap, and a range then stands for 80,000 ids instead of a 4 MB set."""
    if not clients:
        return range(0)
    first, last = clients[0].id, clients[-1].id
    if last - first + 1 == len(clients):  # type: ignore[operator]
        return range(first, last + 1)  # type: ignore[arg-type, operator]
    return {client.id for client in clients}  # type: ignore[misc]


def plan_and_write(outcomes: list[RowOutcome], groups: list[list[int]], workshop: Workshop, *,
                   writer: str = "auto", progress: Callable[[int], None] = lambda _percent: None) -> Plan:
    """Plan ``groups`` (``build_plan``) and create and fill what the plan says; returns the plan, its
    new clients and vehicles with their ids. ``progress`` hears 65, 75 and 90 (%) on the way."""
    if writer == "auto":
        writer = "copy" if connection.vendor == "postgresql" else "orm"
    if writer == "copy":
        from imports.write_copy import plan_and_write_copy

        return plan_and_write_copy(outcomes, groups, workshop, progress)
    plan = build_plan(outcomes, groups, workshop)
    _write_new_rows_orm(plan, workshop)
    progress(65)
    _write_updates(plan)
    progress(75)
    write_visits(plan, workshop, copy=False)
    progress(90)
    return plan


def write_visits(plan: Plan, workshop: Workshop, *, copy: bool) -> None:
    """The plan's visits as completed bookings; its new clients and vehicles are written already."""
    if not plan.visits:
        return
    # Ids in place of the plan's references, one tuple at a time (no second list of 100,000 visits).
    visits: list = plan.visits
    for n, (client, vehicle, visited_on) in enumerate(plan.visits):
        visits[n] = (client_id_of(client), _vehicle_id(vehicle), visited_on)
    service = import_visit_service()
    if copy:  # the new clients were written with their link and first visit
        plan.visits_created = booking_import_visits_copy(workshop=workshop, service=service, visits=visits,
                                                         new_client_ids=_ids(plan.new_clients))
    else:
        plan.visits_created = booking_import_visits_bulk(workshop=workshop, service=service, visits=visits)


def _write_new_rows_orm(plan: Plan, workshop: Workshop) -> None:
    tz = workshop.tz
    created = Client.objects.bulk_create(
        [Client(name=c.name, kind=c.kind, inn=c.inn, email=c.email, comment=c.comment,
                first_visit_at=import_visit_starts_at(c.first_visit, tz) if c.first_visit else None)
         for c in plan.new_clients],
        batch_size=BATCH,
    )
    for new, row in zip(plan.new_clients, created):
        new.id = row.pk
    ClientPhone.objects.bulk_create(
        [ClientPhone(client_id=c.id, number=number, extension=ext[:10], position=position)
         for c in plan.new_clients for position, (number, ext) in enumerate(unpack(c.phones))]
        + [ClientPhone(client_id=client_id, number=number, extension=ext[:10], position=position)
           for client_id, number, ext, position in plan.new_phones],
        batch_size=BATCH,
    )
    Link = Client.workshops.through
    Link.objects.bulk_create([Link(client_id=client_id_of(ref), workshop_id=workshop.pk) for ref in plan.links],
                             ignore_conflicts=True, batch_size=BATCH)
    vehicles = Vehicle.objects.bulk_create(
        [Vehicle(client_id=client_id_of(v.client), vin=v.vin, plate=v.plate, make=v.make, model=v.model, year=v.year,
                 mileage_km=v.mileage_km) for v in plan.new_vehicles],
        batch_size=BATCH,
    )
    for new, row in zip(plan.new_vehicles, vehicles):
        new.id = row.pk


def _write_updates(plan: Plan) -> None:
    """Fill empty fields of existing clients and cars (few rows; one UPDATE each)."""
    now = timezone.now()
    for client_id, values in plan.client_updates.items():
        Client.objects.filter(pk=client_id).update(**values, updated_at=now)
    for vehicle_id, values in plan.vehicle_updates.items():
        Vehicle.objects.filter(pk=vehicle_id).update(**values)

