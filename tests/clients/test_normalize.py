"""Phones, plates, VINs and INNs are normalised one way everywhere."""

import pytest

from clients.normalize import (
    InvalidInn,
    InvalidPhone,
    InvalidPlate,
    InvalidVin,
    normalize_inn,
    normalize_phone,
    normalize_plate,
    normalize_vin,
    phone_search_variant,
)


@pytest.mark.parametrize(
    "raw",
    ["+7 912 123-45-67", "8 (912) 123-45-67", "89121234567", "79121234567", "9121234567", 89121234567, 89121234567.0,
     "+7(912)1234567 доб. 15", " 8-912-123-45-67 "],
)
def test_every_common_way_of_writing_a_mobile_gives_one_e164(raw):
    assert normalize_phone(raw) == "+79121234567"


def test_foreign_numbers_are_kept():
    assert normalize_phone("+375 29 123-45-67") == "+375291234567"
    assert normalize_phone("+7 701 234 5678") == "+77012345678"


@pytest.mark.parametrize(
    ("raw", "word"),
    [
        ("", "не указан"),
        ("89990000000", "заглушк"),
        ("+7 900 111-11-11", "заглушк"),
        ("7.91212E+10", "экспоненциальн"),
        ("123-45-67", "не существует"),
        ("позвонить позже", "распознать"),
        ("+7 912 123", "не существует"),
    ],
)
def test_placeholders_and_broken_numbers_are_refused_with_a_reason(raw, word):
    with pytest.raises(InvalidPhone) as info:
        normalize_phone(raw)
    assert word in info.value.message


def test_a_search_query_in_any_phone_format_finds_the_e164_form():
    assert phone_search_variant("8 912 123 45 67") == "+79121234567"
    assert phone_search_variant("Петров") is None


@pytest.mark.parametrize("raw", ["а123вс77", "A123BC77", "А 123 ВС 777", "a123bc77rus", "А123ВС 77 RUS"])
def test_plates_in_latin_or_cyrillic_and_with_spaces_become_one(raw):
    assert normalize_plate(raw)[:6] == "А123ВС"


@pytest.mark.parametrize("raw", ["123", "Б123ВС77", "А123ВС", "AAAAAAAA"])
def test_what_is_not_a_russian_plate_is_refused(raw):
    with pytest.raises(InvalidPlate):
        normalize_plate(raw)


def test_vin_maps_cyrillic_look_alikes_and_refuses_i_o_q():
    assert normalize_vin("XTA21099О43012345".replace("О", "0")) == "XTA21099043012345"
    assert normalize_vin("хта21099043012345") == "XTA21099043012345"
    for bad in ("XTA2109904301234", "XTA2109904301234I", "XTAO1099043012345"):
        with pytest.raises(InvalidVin):
            normalize_vin(bad)


def test_inn_checksums():
    assert normalize_inn("7707083893") == "7707083893"  # a 10-digit company INN
    assert normalize_inn("500100732259") == "500100732259"  # a 12-digit personal INN
    for bad in ("7707083894", "12345", "500100732258"):
        with pytest.raises(InvalidInn):
            normalize_inn(bad)


def _full_phone_path(text):
    """What libphonenumber alone says of ``text``: E.164 when valid, else ``None``."""
    import phonenumbers

    try:
        number = phonenumbers.parse(text, "RU")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def test_the_mobile_shortcut_agrees_with_libphonenumber_on_every_number_it_answers():
    import random

    from clients.normalize import fast_russian_mobile

    rnd = random.Random(7)
    formats = ["8{}", "+7{}", "7{}", "{}", "8 ({}) {}-{}-{}", "+7 {} {}-{}-{}", "8-{}-{}-{}-{}", "+7({}){}{}{}", "+8{}"]
    answered = 0
    for _ in range(20_000):
        national = f"{rnd.choice('99999345678')}{rnd.randrange(10**9):09d}"[: rnd.choice([10, 10, 10, 9, 11])]
        shape = rnd.choice(formats)
        text = shape.format(national) if shape.count("{}") == 1 else shape.format(
            national[:3], national[3:6], national[6:8], national[8:])
        fast = fast_russian_mobile(text)
        if fast is not None:
            answered += 1
            assert fast == _full_phone_path(text), text
    assert answered > 5_000


def _mobile_by_regex(text: str) -> str | None:
    """The mobile shortcut as first written (two regular expressions): the faster one must agree with it."""
    import re

    from clients.normalize import _RU_MOBILE

    if not re.match(r"^[\d\s()+\-.]+$", text):
        return None
    digits = re.sub(r"\D", "", text)
    if len(digits) == 11 and digits[0] in "78" and digits[1] == "9":
        if text.startswith("+") and digits[0] != "7":
            return None
        national = digits[1:]
    elif len(digits) == 10 and digits[0] == "9" and not text.startswith("+"):
        national = digits
    else:
        return None
    if not _RU_MOBILE.fullmatch(national) or len(set(national[-7:])) == 1:
        return None
    return "+7" + national


def test_the_mobile_shortcut_answers_as_its_regex_version_on_any_text():
    """Tabs, no-break spaces, other scripts' digits and letters included."""
    import random

    from clients.normalize import fast_russian_mobile

    rnd = random.Random(11)
    shapes = ["8{}{}{}{}", "+7 {} {}-{}-{}", "8 ({}) {}-{}-{}", "7{}{}{}{}", "{}{}{}{}", "+7({}){}{}{}"]
    extra = "0123456789 ()+-.\t\xa0\u0669\uff19x"
    answered = 0
    for _ in range(30_000):
        national = f"9{rnd.randrange(10**9):09d}"
        text = rnd.choice(shapes).format(national[:3], national[3:6], national[6:8], national[8:])
        for _ in range(rnd.choice([0, 0, 1, 2])):  # a stray character somewhere
            at = rnd.randrange(len(text) + 1)
            text = text[:at] + rnd.choice(extra) + text[at:]
        fast = fast_russian_mobile(text)
        answered += fast is not None
        assert fast == _mobile_by_regex(text), repr(text)
    assert answered > 10_000
    for text in ("8 (912) 123-45-67", "+7 912 000-00-00", "89121234567", "+8 912 123 45 67", "9121234567", ""):
        assert fast_russian_mobile(text) == _mobile_by_regex(text), text


@pytest.mark.parametrize(
    "raw",
    ["ivan@mail.ru", "Ivan.Petrov+x@Gmail.COM", "o'brien@mail.ru", "a@b.co", "ivan@mail.r", "ivan@mail", "ivan@@mail.ru",
     "ivan..p@mail.ru", ".ivan@mail.ru", "ivan@-mail.ru", "ivan@mail-.ru", "ivan@localhost", "ivan@[127.0.0.1]",
     "ivan@[IPv6:::1]", "иван@почта.рф", "ivan@почта.рф", "ivan@xn--80a1acny.xn--p1ai", "ivan@mail.123",
     "x@" + "a" * 64 + ".com", "x@" + "a" * 63 + ".com", "a" * 310 + "@mail.ru", "ivan mail.ru",
     "ivan!#$%&'*/=?^_`{|}~@mail.ru", "\"quoted\"@mail.ru", "ivan@mail.ru."],
)
def test_the_email_shortcut_accepts_only_what_djangos_validator_accepts(raw):
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    from clients.normalize import InvalidEmail, normalize_email

    email = raw.strip().lower()
    try:
        validate_email(email)
        django_says = email
    except ValidationError:
        django_says = None
    try:
        ours = normalize_email(raw)
    except InvalidEmail:
        ours = None
    assert ours == django_says
