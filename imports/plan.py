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

from django.db.models import Q

from bookings.models import Booking, BookingChannel
from clients.models import Client, ClientPhone, Vehicle
from imports.records import MERGED, NEW, UPDATED, Car, RowOutcome
from workshops.models import Bay, Workshop

CHUNK = 5000


@dataclass(eq=False)
class NewClient:
    name: str
    kind: str
    inn: str = ""
    email: str = ""
    comment: str = ""
    id: int | None = None


@dataclass(eq=False)
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
    new_phones: list[tuple[ClientRef, str, str, int]] = field(default_factory=list)
    links: list[ClientRef] = field(default_factory=list)
    new_vehicles: list[NewVehicle] = field(default_factory=list)
    vehicle_updates: dict[int, dict[str, Any]] = field(default_factory=dict)
    visits: list[tuple[ClientRef, VehicleRef, date]] = field(default_factory=list)
    row_clients: list[tuple[int, ClientRef]] = field(default_factory=list)
    conflicts: list[dict[str, Any]] = field(default_factory=list)
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


def _lookup(model: Any, field_name: str, values: Iterable[Any], *columns: str) -> list[tuple[Any, ...]]:
    found: list[tuple[Any, ...]] = []
    for chunk in _chunks(sorted(set(values))):
        found.extend(model.objects.filter(**{f"{field_name}__in": chunk}).values_list(*columns))
    return found


def _simplify(name: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", name.lower().replace("ё", "е")).split())


def same_name(a: str, b: str) -> bool:
    """Equal up to case, ё, punctuation and spaces, or one gives initials of the other (Петров И.С.)."""
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
    plan = Plan()
    phones = [p for g in groups for i in g for p, _ in outcomes[i].phones]
    inns = [outcomes[i].inn for g in groups for i in g if outcomes[i].inn]
    phone_owner = dict(_lookup(ClientPhone, "number", phones, "number", "client_id"))
    inn_owner = dict(_lookup(Client, "inn", inns, "inn", "id"))
    existing_ids: set[int] = set(phone_owner.values()) | set(inn_owner.values())
    clients = {row[0]: row for row in _lookup(Client, "id", existing_ids, "id", "name", "kind", "inn", "email", "comment")}
    linked = _linked_here(existing_ids, workshop)
    vehicles_by_client: dict[int, list[dict[str, Any]]] = {}
    for row in _lookup(Vehicle, "client_id", existing_ids, "id", "client_id", "vin", "plate", "make", "model", "year", "mileage_km"):
        vehicles_by_client.setdefault(row[1], []).append(dict(zip(("id", "client_id", "vin", "plate", "make", "model", "year", "mileage_km"), row)))
    vins = [c.vin for g in groups for i in g for c in outcomes[i].cars if c.vin]
    vin_owner = {vin: (vid, cid) for vid, cid, vin in _lookup(Vehicle, "vin", vins, "id", "client_id", "vin")}
    tz = workshop.tz
    visited: set[tuple[int, date]] = {
        (cid, starts_at.astimezone(tz).date())
        for chunk in _chunks(sorted(existing_ids))
        for cid, starts_at in Booking.objects.filter(
            workshop=workshop, channel=BookingChannel.IMPORT, client_id__in=chunk
        ).values_list("client_id", "starts_at")
    }
    has_bay = Bay.objects.filter(workshop=workshop).exists()
    if not has_bay and any(outcomes[i].visits for g in groups for i in g):
        plan.notes.append(f"В филиале «{workshop}» нет ни одного поста — история визитов не загружена. "
                          "Добавьте пост и загрузите файл ещё раз: клиенты не задвоятся.")
    planner = _GroupPlanner(plan, outcomes, workshop, phone_owner, inn_owner, clients, linked,
                            vehicles_by_client, vin_owner, visited, has_bay)
    for group in groups:
        planner.plan_group(group)
    plan.clients_in_file = len(groups)
    return plan


def _linked_here(client_ids: set[int], workshop: Workshop) -> set[int]:
    found: set[int] = set()
    for chunk in _chunks(sorted(client_ids)):
        found.update(Client.workshops.through.objects.filter(workshop_id=workshop.pk, client_id__in=chunk)
                     .values_list("client_id", flat=True))
    return found


class _GroupPlanner:
    """Plans one group at a time against the snapshot of existing rows loaded by ``build_plan``."""

    def __init__(self, plan: Plan, outcomes: list[RowOutcome], workshop: Workshop, phone_owner: dict[str, int],
                 inn_owner: dict[str, int], clients: dict[int, tuple[Any, ...]], linked: set[int],
                 vehicles_by_client: dict[int, list[dict[str, Any]]], vin_owner: dict[str, tuple[int, int]],
                 visited: set[tuple[int, date]], has_bay: bool) -> None:
        self.plan, self.outcomes, self.workshop = plan, outcomes, workshop
        self.phone_owner, self.inn_owner, self.clients, self.linked = phone_owner, inn_owner, clients, linked
        self.vehicles_by_client, self.vin_owner, self.visited, self.has_bay = vehicles_by_client, vin_owner, visited, has_bay

    def conflict(self, outcome: RowOutcome, client_id: int | None, field_name: str, kept: str, offered: str) -> None:
        self.plan.conflicts.append({"loc": outcome.loc, "line": outcome.line, "client_id": client_id,
                                    "field": field_name, "kept": kept, "offered": offered})

    def plan_group(self, group: list[int]) -> None:
        rows = [self.outcomes[i] for i in group]
        owners = sorted({self.phone_owner[p] for o in rows for p, _ in o.phones if p in self.phone_owner}
                        | {self.inn_owner[o.inn] for o in rows if o.inn in self.inn_owner})
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
        changed |= self._add_phones(target, rows)
        changed |= self._add_cars_and_visits(target, rows)
        for n, (index, outcome) in enumerate(zip(group, rows)):
            if isinstance(target, NewClient):
                outcome.status = NEW if n == 0 else MERGED
            else:
                outcome.status = UPDATED if n == 0 and changed else MERGED
            self.plan.row_clients.append((index, target))
        if changed and not isinstance(target, NewClient):
            self.plan.clients_updated += 1

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

    def _add_phones(self, target: ClientRef, rows: list[RowOutcome]) -> bool:
        added = False
        position = 0 if isinstance(target, NewClient) else 100
        for outcome in rows:
            for number, ext in outcome.phones:
                owner = self.phone_owner.get(number)
                if owner is None:
                    self.phone_owner[number] = -1  # taken by this plan
                    self.plan.new_phones.append((target, number, ext, position))
                    self.plan.phones_added += 1
                    position += 1
                    added = True
                elif owner not in (-1, target):
                    self.conflict(outcome, owner, "телефон", f"у клиента № {owner}", number)
        return added and not isinstance(target, NewClient)

    def _add_cars_and_visits(self, target: ClientRef, rows: list[RowOutcome]) -> bool:
        changed = False
        existing = [] if isinstance(target, NewClient) else self.vehicles_by_client.get(target, [])
        mine: list[dict[str, Any]] = existing
        new_here: list[NewVehicle] = []

        def find(car_vin: str, car_plate: str) -> VehicleRef | dict[str, Any]:
            for vehicle in new_here:
                if (car_vin and vehicle.vin == car_vin) or (car_plate and vehicle.plate == car_plate):
                    return vehicle
            for vehicle in mine:
                if (car_vin and vehicle["vin"] == car_vin) or (car_plate and vehicle["plate"] == car_plate):
                    return vehicle
            return None

        for outcome in rows:
            for car in outcome.cars:
                if car.vin and car.vin in self.vin_owner and self.vin_owner[car.vin][1] != target:
                    self.conflict(outcome, self.vin_owner[car.vin][1], "VIN", "автомобиль другого клиента", car.vin)
                    car.vin = ""
                    if not car.plate:
                        continue
                found = find(car.vin, car.plate)
                if found is None:
                    vehicle = NewVehicle(client=target, vin=car.vin, plate=car.plate, make=car.make, model=car.model,
                                         year=car.year, mileage_km=car.mileage_km)
                    new_here.append(vehicle)
                    self.plan.new_vehicles.append(vehicle)
                    if car.vin:
                        self.vin_owner[car.vin] = (-1, target)  # type: ignore[assignment]
                    changed = True
                elif isinstance(found, NewVehicle):
                    _fill_new(found, car)
                else:
                    changed |= self._fill_vehicle(outcome, found, car)
            for visited_on, vin, plate in outcome.visits:
                vehicle = find(vin, plate) if (vin or plate) else None
                ref: VehicleRef = vehicle["id"] if isinstance(vehicle, dict) else vehicle
                client_key = target if isinstance(target, int) else id(target)
                if (client_key, visited_on) in self.visited or not self.has_bay:
                    continue
                self.visited.add((client_key, visited_on))
                self.plan.visits.append((target, ref, visited_on))
                changed = True
        return changed and not isinstance(target, NewClient)

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


def _fill_new(vehicle: NewVehicle, car: Car) -> None:
    for name in ("vin", "plate", "make", "model", "year", "mileage_km"):
        if getattr(vehicle, name) in (None, "") and getattr(car, name) not in (None, ""):
            setattr(vehicle, name, getattr(car, name))
