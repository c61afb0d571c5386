"""Normalisers for what identifies a client and a car: phone, INN, VIN, plate, e-mail.

One set of rules for the whole system (admin, bot, API, importer), matching
``shared/import-samples/README.md``. Each ``normalize_*`` returns the canonical form or
raises a ``DomainError`` whose message says what is wrong with the value.
"""

import re

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, validate_email

from phonenumbers.data.region_RU import PHONE_METADATA_RU

from workshops.errors import DomainError


class InvalidPhone(DomainError):
    code = "invalid_phone"
    default_message = "Не удалось распознать номер телефона. Пример: +7 912 345-67-89."


class InvalidPlate(DomainError):
    code = "invalid_plate"
    default_message = "Госномер не похож на российский. Пример: А123ВС77."


class InvalidVin(DomainError):
    code = "invalid_vin"
    default_message = "VIN — 17 символов: латинские буквы (кроме I, O, Q) и цифры."


class InvalidInn(DomainError):
    code = "invalid_inn"
    default_message = "ИНН не прошёл проверку контрольной суммы."


class InvalidEmail(DomainError):
    code = "invalid_email"
    default_message = "Адрес e-mail записан с ошибкой."


# C0 and C1 control characters and DEL. Tab and line breaks are kept; other spacing controls
# (vertical tab, form feed, separators, NEL: how old programs break a line inside a cell) become
# a space; the rest (a bell, an escape from a DOS-era program) carry nothing and are dropped.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_CONTROLS_MAP = {
    code: (" " if chr(code).isspace() else None)
    for code in (*range(0x20), *range(0x7F, 0xA0))
    if chr(code) not in "\t\n\r"
}


def strip_controls(value: str) -> str:
    """Free text (a name, a comment, a car's make) without control characters; tab and line breaks stay.

    One regular-expression search for the usual clean text: the importer calls this per row.
    """
    return value.translate(_CONTROLS_MAP) if _CONTROLS.search(value) else value


_SCIENTIFIC = re.compile(r"^\s*\d+(?:[.,]\d+)?[eE][+-]?\d+\s*$")
_EXTENSION = re.compile(r"(?:доб\.?|добав\w*\.?|ext\.?|вн\.?|x)\s*(\d{1,6})\s*$", re.IGNORECASE)


def phone_digits_from_cell(value: object) -> str:
    """A spreadsheet cell as phone text: ``89121234567.0`` (xls float) → ``89121234567``."""
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def split_extension(raw: str) -> tuple[str, str]:
    """``+7 495 123-45-67 доб. 12`` → (``+7 495 123-45-67``, ``12``)."""
    match = _EXTENSION.search(raw)
    if not match:
        return raw, ""
    return raw[: match.start()].rstrip(" ,;"), match.group(1)


# Russian mobile numbers, straight from libphonenumber's metadata: the common case of a big
# import is checked with one regex instead of a full parse (~25 µs each, 2.5 s per 100,000).
_RU_MOBILE = re.compile(PHONE_METADATA_RU.mobile.national_number_pattern)
_PLAIN_NUMBER = re.compile(r"^[\d\s()+\-.]+$")
_NON_DIGIT = re.compile(r"\D")


def fast_russian_mobile(text: str) -> str | None:
    """E.164 of a plainly written Russian mobile number, or ``None`` to take the full path."""
    # The separators people type, dropped with str.replace: three times faster than the two
    # regular expressions, which still decide when anything else is in the text.
    digits = text.replace(" ", "").replace("-", "").replace("(", "").replace(")", "").replace(".", "").replace("+", "")
    if not (digits.isascii() and digits.isdigit()):
        if not _PLAIN_NUMBER.match(text):
            return None
        digits = _NON_DIGIT.sub("", text)
    if len(digits) == 11 and digits[0] in "78" and digits[1] == "9":
        if text.startswith("+") and digits[0] != "7":
            return None
        national = digits[1:]
    elif len(digits) == 10 and digits[0] == "9" and not text.startswith("+"):
        national = digits
    else:
        return None
    if not _RU_MOBILE.fullmatch(national) or national[-7:] == national[-1] * 7:  # a placeholder: 9990000000
        return None
    return "+7" + national


def normalize_phone(raw: object) -> str:
    """One phone number as E.164 (``+79121234567``), extension dropped; ``InvalidPhone`` otherwise.

    Placeholders (last seven digits alike), local numbers without a city code and numbers
    Excel turned into scientific notation are refused even when ``phonenumbers`` would
    accept their shape.
    """
    text = phone_digits_from_cell(raw).strip()
    fast = fast_russian_mobile(text)
    if fast is not None:
        return fast
    if not text:
        raise InvalidPhone("Номер телефона не указан.")
    if _SCIENTIFIC.match(text):
        raise InvalidPhone(f"Номер «{text[:40]}» испорчен Excel (экспоненциальная запись).")
    text, _ext = split_extension(text)
    digits = re.sub(r"\D", "", text)
    # Telegram sends contacts as "79121234567" without the plus.
    if not text.lstrip().startswith(("+", "8")) and len(digits) == 11 and digits[0] == "7":
        text = "+" + digits
    try:
        number = phonenumbers.parse(text, "RU")
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(f"Не удалось распознать номер «{text[:40]}».") from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone(f"Номер «{text[:40]}» не существует: проверьте количество цифр и код.")
    national = str(number.national_number)
    if len(set(national[-7:])) == 1:
        raise InvalidPhone(f"Номер «{text[:40]}» похож на заглушку.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def format_phone(e164: str) -> str:
    """``+79121234567`` → ``+7 912 123-45-67`` for people to read."""
    try:
        return phonenumbers.format_number(phonenumbers.parse(e164, "RU"), phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    except phonenumbers.NumberParseException:
        return e164


def phone_search_variant(text: str) -> str | None:
    """E.164 of a search query that looks like a phone in any format, else ``None``."""
    if len(re.sub(r"\D", "", text)) < 10:
        return None
    try:
        return normalize_phone(text)
    except InvalidPhone:
        return None


# Cyrillic letters that look like Latin ones, both ways.
_CYR_TO_LAT = str.maketrans("АВЕКМНОРСТУХ", "ABEKMHOPCTYX")
_LAT_TO_CYR = str.maketrans("ABEKMHOPCTYX", "АВЕКМНОРСТУХ")
_VIN = re.compile(r"^[A-HJ-NPR-Z0-9]{17}$")
_PLATE = re.compile(r"^[АВЕКМНОРСТУХ]\d{3}[АВЕКМНОРСТУХ]{2}\d{2,3}$")


def normalize_vin(raw: str) -> str:
    vin = re.sub(r"[\s-]", "", str(raw)).upper().translate(_CYR_TO_LAT)
    if not _VIN.match(vin):
        raise InvalidVin(f"VIN «{str(raw)[:40]}» не подходит: нужно 17 символов, латиница без I, O, Q и цифры.")
    return vin


def normalize_plate(raw: str) -> str:
    plate = re.sub(r"[\s\-_.]", "", str(raw)).upper()
    plate = re.sub(r"RUS$", "", plate).translate(_LAT_TO_CYR)
    if not _PLATE.match(plate):
        raise InvalidPlate(f"Госномер «{str(raw)[:40]}» не похож на российский. Пример: А123ВС77.")
    return plate


def _inn_checksum(digits: list[int], weights: list[int]) -> int:
    return sum(d * w for d, w in zip(digits, weights)) % 11 % 10


def normalize_inn(raw: object) -> str:
    inn = re.sub(r"\s", "", phone_digits_from_cell(raw))
    if not inn.isdigit() or len(inn) not in (10, 12):
        raise InvalidInn(f"ИНН «{str(raw)[:40]}»: нужно 10 цифр (организация) или 12 (ИП, физлицо).")
    d = [int(c) for c in inn]
    if len(inn) == 10:
        ok = d[9] == _inn_checksum(d, [2, 4, 10, 3, 5, 9, 4, 6, 8])
    else:
        ok = d[10] == _inn_checksum(d, [7, 2, 4, 10, 3, 5, 9, 4, 6, 8]) and d[11] == _inn_checksum(
            d, [3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8]
        )
    if not ok:
        raise InvalidInn(f"ИНН «{inn}» не прошёл проверку контрольной суммы.")
    return inn


# The address shapes Django's ``validate_email`` accepts most often (a dot-atom local part and a
# host name), as one regex built from the validator's own parts: a match means the validator
# accepts it too, so a big import skips the validator's slower path; no match asks the validator.
_PLAIN_EMAIL = re.compile(
    r"[-!#$%&'*+/=?^_`{}|~0-9A-Z]+(?:\.[-!#$%&'*+/=?^_`{}|~0-9A-Z]+)*@"
    + EmailValidator.hostname_re + EmailValidator.domain_re + EmailValidator.tld_no_fqdn_re + r"\Z",
    re.IGNORECASE,
)


def normalize_email(raw: str) -> str:
    email = str(raw).strip().lower()
    if len(email) <= 320 and _PLAIN_EMAIL.match(email):
        return email
    try:
        validate_email(email)
    except ValidationError as exc:
        raise InvalidEmail(f"Адрес e-mail «{str(raw)[:60]}» записан с ошибкой.") from exc
    return email
