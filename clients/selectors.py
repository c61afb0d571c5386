"""Reads about clients: finding a client by what staff type into a search box."""

import re
from functools import lru_cache

from django.db.models import Q

from clients.models import ClientPhone, Vehicle
from clients.normalize import InvalidPlate, format_phone, normalize_plate, phone_search_variant

_LAT_TO_CYR = str.maketrans("ABEKMHOPCTYX", "АВЕКМНОРСТУХ")
MIN_PARTIAL_DIGITS = 4


def client_search_q(term: str) -> Q:
    """Clients matching ``term`` typed by staff: a name, a phone in any format, a plate.

    * a whole phone in any format (``8 (912) 123-45-67``, ``+7912…``, ``9121234567``),
      normalised to E.164 and matched exactly — and then nothing else is searched;
    * a whole plate in any spelling (``a123bc 77``, ``А 123 ВС 777 RUS``), normalised and
      matched exactly — and then nothing else is searched;
    * otherwise: every word of the term in the name (``петров иван`` finds «Иван Петров»),
      a tail of a phone (four digits or more: ``4567``, ``45-67``), part of a plate
      (``123ВС``), an INN.

    An empty term matches nothing. Whole phones and plates are semi-joins on unique or
    indexed columns, so the common searches do not scan the clients table.
    """
    term = " ".join(term.split())
    if not term:
        return Q(pk__in=[])
    if phone := phone_search_variant(term):
        return Q(pk__in=ClientPhone.objects.filter(number=phone).values("client_id"))
    if plate := plate_search_variant(term):
        return Q(pk__in=Vehicle.objects.filter(plate=plate).values("client_id"))
    q = Q(pk__in=[])
    if any(ch.isalpha() for ch in term):
        words = Q()
        for word in term.split(" "):
            words &= Q(name__icontains=word)
        q |= words
    digits = re.sub(r"\D", "", term)
    if len(digits) >= MIN_PARTIAL_DIGITS and re.fullmatch(r"[\d\s()+\-.]+", term):
        q |= Q(pk__in=ClientPhone.objects.filter(number__contains=digits).values("client_id"))
    if fragment := _plate_fragment(term):
        q |= Q(pk__in=Vehicle.objects.filter(plate__contains=fragment).values("client_id"))
    if digits == term and len(digits) in (10, 12):
        q |= Q(inn=digits)
    return q


def plate_search_variant(term: str) -> str | None:
    """The canonical plate of a search query that is a whole plate in any spelling, else ``None``."""
    try:
        return normalize_plate(term)
    except InvalidPlate:
        return None


def _plate_fragment(term: str) -> str | None:
    """Part of a plate (``123ВС``, ``a123``): letters and digits, mixed, in Cyrillic capitals."""
    fragment = re.sub(r"[\s\-]", "", term).upper().translate(_LAT_TO_CYR)
    if len(fragment) < 3 or not re.fullmatch(r"[АВЕКМНОРСТУХ\d]+", fragment):
        return None
    if fragment.isdigit():
        return None  # digits alone are a phone tail, not a plate
    return fragment


@lru_cache(maxsize=20_000)
def display_phone(e164: str) -> str:
    """``format_phone`` remembered: lists and the journal show the same numbers all day."""
    return format_phone(e164)


def vin_of_another_client(vin: str, client_id: int) -> bool:
    """Whether a car with this VIN is on another client's card: a VIN belongs to one car, one client."""
    return Vehicle.objects.filter(vin=vin).exclude(client_id=client_id).exists()
