"""From validated, grouped rows to a write plan against what the database already holds.

Reads only. Decides, per group of rows that are one client: the existing client it is (or
a new one), which empty fields get filled, which phones, cars and visits are added, and
which differences are left alone and reported as conflicts. Sets each row's final status:
``new`` (creates the client), ``updated`` (fills something in an existing client),
``merged`` (same client as an earlier row or an existing client, nothing new).
"""

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db import connection

from bookings.models import Booking, BookingChannel
from clients.models import Client, ClientPhone, Vehicle
from imports.limits import PREVIEW_PROBLEM_ROWS
from imports.records import MERGED, NEW, UPDATED, Car, RowOutcome, pack_append
from workshops.models import Bay, Workshop

CHUNK = 5000


@dataclass(eq=False, slots=True)
class NewClient:
    name: str
    kind: str
    inn: str = ""
    email: str = ""
    comment: str = ""
    first_visit: date | None = None  # the earliest visit the plan records: written with the client
    phones: Any = None  # packed (number, extension) pairs, the rows' own (``imports.records.pack``)
    id: int | None = None


@dataclass(eq=False, slots=True)
class NewVehicle:
    client: "int | NewClient"
    vin: str = ""
    plate: str = ""
    make: str = ""
    model: str = ""
    year: int | None = None
    mileage_km: int | None = None
    id: int | None = None


ClientRef = int | NewClient
VehicleRef = int | NewVehicle | None


@dataclass
class Plan:
    new_clients: list[NewClient] = field(default_factory=list)
    client_updates: dict[int, dict[str, Any]] = field(default_factory=dict)
    new_phones: list[tuple[int, str, str, int]] = field(default_factory=list)  # of existing clients; new ones hold theirs
    links: list[ClientRef] = field(default_factory=list)
    new_vehicles: list[NewVehicle] = field(default_factory=list)
    vehicle_updates: dict[int, dict[str, Any]] = field(default_factory=dict)
    visits: list[tuple[ClientRef, VehicleRef, date]] = field(default_factory=list)  # ids once written
    group_clients: list[ClientRef] = field(default_factory=list)  # the client of each group, in order
    conflicts: list[dict[str, Any]] = field(default_factory=list)  # the first PREVIEW_PROBLEM_ROWS
    conflicts_total: int = 0
    notes: list[str] = field(default_factory=list)
    clients_in_file: int = 0
    clients_matched: int = 0
    clients_updated: int = 0
    phones_added: int = 0
    visits_created: int = 0

    @property
    def clients_created(self) -> int:
        return len(self.new_clients)


def _chunks(values: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(values), CHUNK):
        yield values[start: start + CHUNK]


def _lookup(model: Any, field_name: str, values: Iterable[Any], *columns: str, order_by: str = "") -> list[tuple[Any, ...]]:
    """``columns`` of the rows of ``model`` whose ``field_name`` is one of ``values``.

    On PostgreSQL one query with an array parameter (``= ANY(%s)``), whatever the number of
    values: chunked ``IN`` lists cost a round trip and a plan per 5,000 keys. ``field_name``,
    ``columns`` and ``order_by`` are column names.
    """
    keys = set(values)
    if not keys:
        return []
    if connection.vendor == "postgresql":
        order = f" ORDER BY {order_by}" if order_by else ""
        # The array typed like the column: with psycopg's smallest fitting type (int2[] for small ids)
        # PostgreSQL cannot hash the comparison and scans the whole array for every row it filters.
        array = "text[]" if isinstance(next(iter(keys)), str) else "bigint[]"
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {', '.join(columns)} FROM {model._meta.db_table} "
                           f"WHERE {field_name} = ANY(string_to_array(%s, ',')::{array}){order}", [_joined(keys)])
            return cursor.fetchall()
    found: list[tuple[Any, ...]] = []
    for chunk in _chunks(sorted(keys)):
        query = model.objects.filter(**{f"{field_name}__in": chunk})
        found.extend((query.order_by(*order_by.split(", ")) if order_by else query).values_list(*columns))
    return found


def _joined(keys: Iterable[Any]) -> str:
    """Keys as one comma-separated text for ``= ANY(string_to_array(%s, ',')::type[])``.

    psycopg dumps a list parameter key by key (100,000 phones: a tenth of a second and an object
    per key); one text is split by the server. Keys here are normalised phones, INNs, VINs and
    ids: never a comma in them.
    """
    return ",".join(map(str, keys))


_PUNCTUATION = re.compile(r"[^\w\s]")


def _simplify(name: str) -> str:
    return " ".join(_PUNCTUATION.sub(" ", name.lower().replace("ё", "е")).split())


def same_name(a: str, b: str) -> bool:
    """Equal up to case, ё, punctuation and spaces, or one gives initials of the other (Петров И.С.)."""
    if a == b:
        return True
    sa, sb = _simplify(a), _simplify(b)
    if sa == sb:
        return True
    wa, wb = sa.split(), sb.split()
    if not wa or not wb or wa[0] != wb[0]:
        return False
    short, full = (wa, wb) if len("".join(wa[1:])) < len("".join(wb[1:])) else (wb, wa)
    return all(len(s) == 1 and f.startswith(s) for s, f in zip(short[1:], full[1:])) and len(short) <= len(full)


def build_plan(outcomes: list[RowOutcome], groups: list[list[int]], workshop: Workshop) -> Plan:
    """The write plan for ``groups`` (from ``group_in_file``); sets each imported row's status."""
    planner = GroupPlanner.load(outcomes, groups, workshop)
    for group in groups:
        planner.plan_group(group)
    return planner.plan


def _linked_here(client_ids: set[int], workshop: Workshop) -> set[int]:
    """The clients among ``client_ids`` already linked to ``workshop``."""
    Link = Client.workshops.through
    if connection.vendor == "postgresql" and client_ids:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT client_id FROM {Link._meta.db_table} "
                           "WHERE workshop_id = %s AND client_id = ANY(string_to_array(%s, ',')::bigint[])",
                           [workshop.pk, _joined(client_ids)])
            return {row[0] for row in cursor.fetchall()}
    found: set[int] = set()
    for chunk in _chunks(sorted(client_ids)):
        found.update(Link.objects.filter(workshop_id=workshop.pk, client_id__in=chunk).values_list("client_id", flat=True))
    return found


def _visited_here(client_ids: set[int], workshop: Workshop) -> set[tuple[int, date]]:
    """(client, local date) of the visits already imported at ``workshop`` for ``client_ids``."""
    if connection.vendor == "postgresql" and client_ids:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT client_id, starts_at FROM {Booking._meta.db_table} "
                           "WHERE workshop_id = %s AND channel = %s AND client_id = ANY(string_to_array(%s, ',')::bigint[])",
                           [workshop.pk, BookingChannel.IMPORT, _joined(client_ids)])
            found = cursor.fetchall()
    else:
        found = [row for chunk in _chunks(sorted(client_ids))
                 for row in Booking.objects.filter(workshop=workshop, channel=BookingChannel.IMPORT, client_id__in=chunk)
                 .values_list("client_id", "starts_at")]
    tz = workshop.tz
    local_dates: dict[Any, date] = {}  # imported visits share a few thousand distinct start times
    visited: set[tuple[int, date]] = set()
    for client_id, starts_at in found:
        day = local_dates.get(starts_at)
        if day is None:
            day = local_dates[starts_at] = starts_at.astimezone(tz).date()
        visited.add((client_id, day))
    return visited


class GroupPlanner:
    """Plans one group at a time against a snapshot of the existing rows the groups touch (``load``)."""

    @classmethod
    def load(cls, outcomes: list[RowOutcome], groups: list[list[int]], workshop: Workshop) -> "GroupPlanner":
        """Reads from the database everything planning needs; ``plan_group`` then reads nothing."""
        plan = Plan(clients_in_file=len(groups))
        phones = (p for g in groups for i in g for p, _ in outcomes[i].phones)
        inns = (outcomes[i].inn for g in groups for i in g if outcomes[i].inn)
        phone_owner = dict(_lookup(ClientPhone, "number", phones, "number", "client_id"))
        inn_owner = dict(_lookup(Client, "inn", inns, "inn", "id"))
        existing_ids: set[int] = set(phone_owner.values()) | set(inn_owner.values())
        clients = {row[0]: row for row in _lookup(Client, "id", existing_ids, "id", "name", "kind", "inn", "email", "comment")}
        linked = _linked_here(existing_ids, workshop)
        vehicles_by_client: dict[int, list[dict[str, Any]]] = {}
        for row in _lookup(Vehicle, "client_id", existing_ids, "id", "client_id", "vin", "plate", "make", "model", "year",
                           "mileage_km", order_by="client_id, id"):
            vehicles_by_client.setdefault(row[1], []).append(dict(zip(("id", "client_id", "vin", "plate", "make", "model", "year", "mileage_km"), row)))
        vins = (c.vin for g in groups for i in g for c in outcomes[i].cars if c.vin)
        vin_owner: dict[str, ClientRef] = dict(_lookup(Vehicle, "vin", vins, "vin", "client_id"))
        visited = _visited_here(existing_ids, workshop)
        has_bay = Bay.objects.filter(workshop=workshop).exists()
        if not has_bay and any(outcomes[i].visits for g in groups for i in g):
            plan.notes.append(f"В филиале «{workshop}» нет ни одного поста — история визитов не загружена. "
                              "Добавьте пост и загрузите файл ещё раз: клиенты не задвоятся.")
        return cls(plan, outcomes, workshop, phone_owner, inn_owner, clients, linked, vehicles_by_client, vin_owner,
                   visited, has_bay)

    def __init__(self, plan: Plan, outcomes: list[RowOutcome], workshop: Workshop, phone_owner: dict[str, int],
                 inn_owner: dict[str, int], clients: dict[int, tuple[Any, ...]], linked: set[int],
                 vehicles_by_client: dict[int, list[dict[str, Any]]], vin_owner: dict[str, ClientRef],
                 visited: set[tuple[int, date]], has_bay: bool) -> None:
        self.plan, self.outcomes, self.workshop = plan, outcomes, workshop
        self.phone_owner, self.inn_owner, self.clients, self.linked = phone_owner, inn_owner, clients, linked
        self.vehicles_by_client, self.vin_owner, self.visited, self.has_bay = vehicles_by_client, vin_owner, visited, has_bay

    def new_clients_ahead(self, groups: list[list[int]]) -> int:
        """How many of ``groups`` will make a new client: those no phone or INN of which is known."""
        outcomes, phone_owner, inn_owner = self.outcomes, self.phone_owner, self.inn_owner
        return sum(1 for group in groups
                   if not any(p in phone_owner for i in group for p, _ in outcomes[i].phones)
                   and not any(outcomes[i].inn in inn_owner for i in group))

    def conflict(self, outcome: RowOutcome, client_id: ClientRef | None, field_name: str, kept: str, offered: str) -> None:
        if isinstance(client_id, NewClient):
            client_id = None  # created by this file: no number yet (and the summary is stored as JSON)
        self.plan.conflicts_total += 1
        if len(self.plan.conflicts) < PREVIEW_PROBLEM_ROWS:  # the summary shows no more; the rest are counted
            self.plan.conflicts.append({"loc": outcome.loc, "line": outcome.line, "client_id": client_id,
                                        "field": field_name, "kept": kept, "offered": offered})

    def plan_group(self, group: list[int]) -> NewClient | None:
        """Plans ``group``; returns the client it creates (complete: later groups never change it), if any."""
        outcomes = self.outcomes
        rows = [outcomes[i] for i in group]
        phone_owner, inn_owner = self.phone_owner, self.inn_owner
        owner_ids = {phone_owner[p] for o in rows for p, _ in o.phones if p in phone_owner}
        owner_ids.update(inn_owner[o.inn] for o in rows if o.inn in inn_owner)
        owners = sorted(owner_ids)
        if len(owners) > 1:
            for outcome in rows:
                outcome.warn("identity_conflict", f"Телефоны/ИНН строки принадлежат разным клиентам в базе "
                                                  f"(№ {', '.join(map(str, owners))}) — строка отнесена к № {owners[0]}, "
                                                  "остальные не изменены.")
        target: ClientRef
        changed = False
        if owners:
            target = owners[0]
            self.plan.clients_matched += 1
            changed |= self._fill_existing(target, rows)
        else:
            first = rows[0]
            if len(rows) == 1:
                target = NewClient(name=first.name, kind=first.kind, email=first.email, comment=first.comment,
                                   inn=first.inn)
            else:
                kind = next((o.kind for o in rows if o.kind_explicit), first.kind)
                target = NewClient(name=first.name, kind=kind, email=next((o.email for o in rows if o.email), ""),
                                   comment=next((o.comment for o in rows if o.comment), ""))
                inns = [o for o in rows if o.inn]
                if inns:
                    target.inn = inns[0].inn
                    for other in inns[1:]:
                        if other.inn != target.inn:
                            self.conflict(other, None, "ИНН", target.inn, other.inn)
            self.plan.new_clients.append(target)
            self.plan.links.append(target)
        is_new = isinstance(target, NewClient)
        changed |= self._add_phones(target, rows, is_new)
        changed |= self._add_cars_and_visits(target, rows, is_new)
        if is_new:
            first_status = NEW
        else:
            first_status = UPDATED if changed else MERGED
            if changed:
                self.plan.clients_updated += 1
        rows[0].status = first_status
        for outcome in rows[1:]:
            outcome.status = MERGED
        self.plan.group_clients.append(target)
        return target if is_new else None  # type: ignore[return-value]

    def _fill_existing(self, client_id: int, rows: list[RowOutcome]) -> bool:
        _id, name, kind, inn, email, comment = self.clients[client_id]
        updates: dict[str, Any] = {}
        for outcome in rows:
            if not same_name(name, outcome.name):
                self.conflict(outcome, client_id, "имя", name, outcome.name)
            if outcome.inn:
                if not inn and "inn" not in updates and self.inn_owner.get(outcome.inn, client_id) == client_id:
                    updates["inn"] = outcome.inn
                elif outcome.inn != (updates.get("inn") or inn):
                    self.conflict(outcome, client_id, "ИНН", updates.get("inn") or inn, outcome.inn)
            if outcome.email:
                if not email and "email" not in updates:
                    updates["email"] = outcome.email
                elif outcome.email != (updates.get("email") or email):
                    self.conflict(outcome, client_id, "e-mail", updates.get("email") or email, outcome.email)
            if outcome.comment and not comment and "comment" not in updates:
                updates["comment"] = outcome.comment
            if outcome.kind_explicit and outcome.kind == "company" and kind == "person" and "kind" not in updates:
                updates["kind"] = "company"
        if updates:
            self.plan.client_updates[client_id] = updates
        linking = client_id not in self.linked
        if linking:
            self.plan.links.append(client_id)
            self.linked.add(client_id)
        return bool(updates) or linking

    def _add_phones(self, target: ClientRef, rows: list[RowOutcome], is_new: bool) -> bool:
        added = 0
        phone_owner, new_phones = self.phone_owner, self.plan.new_phones
        taken: set[str] = set()  # numbers added here (groups never share a number: they were made by them)
        for outcome in rows:
            for phone in outcome.phones:
                number = phone[0]
                if number in taken:
                    continue
                owner = phone_owner.get(number)
                if owner is None:
                    taken.add(number)
                    if is_new:  # the row's own pair, no copy: 90,000 tuples fewer in a big file
                        target.phones = pack_append(target.phones, phone)  # type: ignore[union-attr]
                    else:
                        new_phones.append((target, number, phone[1], 100 + added))  # type: ignore[arg-type]
                    added += 1
                elif owner != target:
                    self.conflict(outcome, owner, "телефон", f"у клиента № {owner}", number)
        self.plan.phones_added += added
        return bool(added) and not is_new

    def _add_cars_and_visits(self, target: ClientRef, rows: list[RowOutcome], is_new: bool) -> bool:
        changed = False
        mine: list[dict[str, Any]] = [] if is_new else self.vehicles_by_client.get(target, [])  # type: ignore[call-overload]
        new_here: list[NewVehicle] = []
        vin_owner = self.vin_owner
        # Days with a visit: existing clients keep theirs across groups (two groups may find the same
        # client in the database); a new client is this group's alone.
        visited = set() if is_new else self.visited
        for outcome in rows:
            for car in outcome.cars:
                if car.vin and car.vin in vin_owner and vin_owner[car.vin] != target:
                    self.conflict(outcome, vin_owner[car.vin], "VIN", "автомобиль другого клиента", car.vin)
                    car.vin = ""
                    if not car.plate:
                        continue
                found = _find_vehicle(new_here, mine, car.vin, car.plate)
                if found is None:
                    vehicle = NewVehicle(client=target, vin=car.vin, plate=car.plate, make=car.make, model=car.model,
                                         year=car.year, mileage_km=car.mileage_km)
                    new_here.append(vehicle)
                    self.plan.new_vehicles.append(vehicle)
                    if car.vin:
                        vin_owner[car.vin] = target
                    changed = True
                elif isinstance(found, NewVehicle):
                    _fill_new(found, car)
                else:
                    changed |= self._fill_vehicle(outcome, found, car)
            if not self.has_bay:
                continue  # no visits without a bay (the plan's notes say so)
            for visited_on, vin, plate in outcome.visits:
                if (target, visited_on) in visited:
                    continue
                vehicle = _find_vehicle(new_here, mine, vin, plate) if (vin or plate) else None
                ref: VehicleRef = vehicle["id"] if isinstance(vehicle, dict) else vehicle
                visited.add((target, visited_on))
                self.plan.visits.append((target, ref, visited_on))
                if is_new and (target.first_visit is None or visited_on < target.first_visit):  # type: ignore[union-attr]
                    target.first_visit = visited_on  # type: ignore[union-attr]
                changed = True
        return changed and not is_new

    def _fill_vehicle(self, outcome: RowOutcome, vehicle: dict[str, Any], car: Car) -> bool:
        updates = self.plan.vehicle_updates.get(vehicle["id"], {})
        for name in ("vin", "plate", "make", "model", "year", "mileage_km"):
            offered = getattr(car, name)
            current = updates.get(name) or vehicle[name]
            if offered in (None, ""):
                continue
            if current in (None, ""):
                if name == "vin" and offered in self.vin_owner:
                    continue
                updates[name] = offered
            elif name in ("vin", "plate") and current != offered:
                self.conflict(outcome, vehicle["client_id"], "VIN" if name == "vin" else "госномер", str(current), str(offered))
        if updates:
            self.plan.vehicle_updates[vehicle["id"]] = updates
            vehicle.update(updates)
            return True
        return False


def _find_vehicle(new_here: list[NewVehicle], mine: list[dict[str, Any]], vin: str, plate: str
                  ) -> NewVehicle | dict[str, Any] | None:
    """The car of this client that ``vin`` or ``plate`` names: one added by this plan first, then one in the database."""
    for vehicle in new_here:
        if (vin and vehicle.vin == vin) or (plate and vehicle.plate == plate):
            return vehicle
    for row in mine:
        if (vin and row["vin"] == vin) or (plate and row["plate"] == plate):
            return row
    return None


def _fill_new(vehicle: NewVehicle, car: Car) -> None:
    for name in ("vin", "plate", "make", "model", "year", "mileage_km"):
        if getattr(vehicle, name) in (None, "") and getattr(car, name) not in (None, ""):
            setattr(vehicle, name, getattr(car, name))
