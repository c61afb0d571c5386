"""Reads about clients: finding a client by what staff type into a search box."""

import re

from django.db.models import Q

from clients.models import ClientPhone, Vehicle
from clients.normalize import InvalidPlate, normalize_plate, phone_search_variant

_LAT_TO_CYR = str.maketrans("ABEKMHOPCTYX", "АВЕКМНОРСТУХ")
MIN_PARTIAL_DIGITS = 4


def client_search_q(term: str) -> Q:
    """Clients matching ``term`` typed by staff: a name, a phone in any format, a plate.

    * every word of the term in the name (``петров иван`` finds «Иван Петров»);
    * a whole phone in any format (``8 (912) 123-45-67``, ``+7912…``, ``9121234567``),
      normalised to E.164 and matched exactly;
    * a tail of a phone number (at least four digits: ``4567``, ``45-67``);
    * a plate in any spelling (``a123bc 77``, ``А 123 ВС 777 RUS``), normalised, or part of one;
    * an INN.

    An empty term matches nothing. Phone and plate lookups are semi-joins on indexed columns.
    """
    term = " ".join(term.split())
    if not term:
        return Q(pk__in=[])
    words = term.split(" ")
    q = Q()
    for word in words:
        q &= Q(name__icontains=word)
    digits = re.sub(r"\D", "", term)
    phone = phone_search_variant(term)
    if phone:
        q |= Q(pk__in=ClientPhone.objects.filter(number=phone).values("client_id"))
    elif len(digits) >= MIN_PARTIAL_DIGITS and not re.search(r"[^\d\s()+\-.]", term):
        q |= Q(pk__in=ClientPhone.objects.filter(number__contains=digits).values("client_id"))
    plate = plate_search_variant(term)
    if plate:
        q |= Q(pk__in=Vehicle.objects.filter(plate=plate).values("client_id"))
    elif fragment := _plate_fragment(term):
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
