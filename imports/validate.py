"""Validation: every ``SourceRecord`` becomes a ``RowOutcome`` (imported, rejected or skipped), no DB access.

The rules are those of ``shared/import-samples/README.md``: a row is imported when it has
a name (a letter, not a formula) and a valid phone or a valid INN; a bad VIN, plate,
e-mail, INN or date drops that field with a warning; a text field that starts a formula
(``= + - @`` followed somewhere by ``(`` or ``|``) rejects the row.
"""

import re
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from clients.normalize import (
    InvalidEmail,
    InvalidInn,
    InvalidPhone,
    InvalidPlate,
    InvalidVin,
    normalize_email,
    normalize_inn,
    normalize_phone,
    normalize_plate,
    normalize_vin,
    fast_russian_mobile,
    phone_digits_from_cell,
    split_extension,
    strip_controls,
)
from clients.services import InvalidName, clean_name
from imports.columns import FIELDS, TEXT_FIELDS
from imports.records import NEW, REJECTED, SKIPPED, Car, CarInput, RowOutcome, SourceRecord

SKIP_REASONS = {
    "blank": "пустая строка",
    "title": "заголовок, период или отбор отчёта",
    "header": "строка заголовков",
    "group_row": "группа (папка) справочника",
    "total_row": "строка «Итого»",
    "detail_row": "строка автомобиля клиента выше",
    "own_organization": "своя организация, не клиент",
    "document": "документ, не справочник клиентов",
    "not_counterparty": "объект не контрагент",
    "exchange_rules_header": "правила обмена",
    "no_buyer": "в документе нет покупателя",
}

_LEGAL_FORM = re.compile(r"^\s*(ООО|ОАО|ЗАО|ПАО|АО|НАО|ИП|ТОО|ГУП|МУП|ФГУП|АНО|НКО|КФХ|ЧОП)(\s|[«\"'])", re.IGNORECASE)
_LEGAL_WORDS = re.compile(r"(общество с ограниченной|акционерное общество|индивидуальный предприниматель)", re.IGNORECASE)
_INITIALS = re.compile(r"\s[А-ЯЁA-Z]\.\s?(?:[А-ЯЁA-Z]\.?)?$")
_COMMENT_IN_PARENS = re.compile(r"\((?=[^)]*[^\W\d_])[^)]*\)")
_PHONE_SPLIT = re.compile(r"[,;/\n]|\s+или\s+")
_LEADING_LABEL = re.compile(r"^(?:[^\W\d_]+\.?\s*)+:?\s*(?=[+\d(])")
_DMY = re.compile(r"^(\d{1,2})[./](\d{1,2})[./](\d{4}|\d{2})(?:[ T]+\d{1,2}:\d{2}(?::\d{2})?)?$")
_YMD = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]+\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
_CYRILLIC_IN_VIN = re.compile(r"[АВЕКМНРСТХавекмнрстх]")
_LATIN_IN_PLATE = re.compile(r"[A-Za-z]")
_NOT_DIGIT = re.compile(r"\D")
# A VIN or plate that already is in canonical form (``normalize_vin``/``normalize_plate`` would return it
# unchanged, with no look-alike letters to report): the common case of a big file, checked with one match.
_VIN_AS_IS = re.compile(r"[A-HJ-NPR-Z0-9]{17}\Z")
_PLATE_AS_IS = re.compile(r"[АВЕКМНОРСТУХ]\d{3}[АВЕКМНОРСТУХ]{2}\d{2,3}\Z")


def text(value: Any) -> str:
    """A cell as trimmed text: numbers without ``.0``, NUL bytes removed."""
    if type(value) is str:  # the usual case, first
        return value.replace("\x00", "").strip()
    if value is None:
        return ""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, (datetime, date)):
        return value.strftime("%d.%m.%Y")
    return str(value).replace("\x00", "").strip()


def starts_formula(value: str) -> bool:
    """The formula-injection rule: starts with ``= + - @`` (after trimming) and contains ``(`` or ``|``."""
    stripped = value.strip()
    return bool(stripped) and stripped[0] in "=+-@" and ("(" in stripped or "|" in stripped)


def parse_date(value: Any) -> tuple[date | None, tuple[str, str] | None]:
    """A date from a cell (date, datetime, ``dd.mm.yyyy[ h:mm:ss]``, ``yyyy-mm-dd[ hh:mm]``) and a warning.

    The 1C empty date ``01.01.0001`` and Excel's zero date ``1899-12-30`` count as empty.
    """
    if value is None or value == "":
        return None, None
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        parsed = value
    else:
        raw = text(value)
        if not raw:
            return None, None
        match = _DMY.match(raw)
        try:
            if match:
                day, month, year = (int(g) for g in match.groups())
                if len(match.group(3)) == 2:
                    year += 2000 if year < 70 else 1900
                if year == 1:
                    return None, ("empty_1c_date", f"«{raw}» — пустая дата 1С, оставлено пустым.")
                parsed = date(year, month, day)
            elif match := _YMD.match(raw):
                year, month, day = (int(g) for g in match.groups())
                if year == 1:
                    return None, ("empty_1c_date", f"«{raw}» — пустая дата 1С, оставлено пустым.")
                parsed = date(year, month, day)
            else:
                return None, ("date_unparseable", f"Дата «{raw[:40]}» не распознана — отброшена.")
        except ValueError:
            return None, ("date_unparseable", f"Дата «{raw[:40]}» не существует — отброшена.")
    if parsed == date(1899, 12, 30):
        return None, ("excel_zero_date", "Нулевая дата Excel (30.12.1899) — оставлено пустым.")
    if parsed.year < 1900:
        return None, ("date_unparseable", f"Дата {parsed:%d.%m.%Y} слишком ранняя — отброшена.")
    return parsed, None


def split_phones(values: Sequence[Any]) -> tuple[list[tuple[str, str]], list[tuple[str, str]], bool]:
    """Valid phones (E.164, extension) of one or more cells, the refused pieces with reasons, and
    whether a remark after a number was dropped."""
    valid: list[tuple[str, str]] = []
    refused: list[tuple[str, str]] = []
    had_comment = False
    for value in values:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            pieces = [phone_digits_from_cell(value)]
        else:
            raw = text(value)
            # Most cells hold one plainly written Russian mobile: the same answer as the full path
            # below (no remark, no label, no extension), in a fraction of the time.
            number = fast_russian_mobile(raw)
            if number is not None:
                if number not in (p for p, _ in valid):
                    valid.append((number, ""))
                continue
            cleaned = _COMMENT_IN_PARENS.sub(" ", raw)
            had_comment |= cleaned != raw
            pieces = _PHONE_SPLIT.split(cleaned) if not re.fullmatch(r"[\d\s()+\-.]+", cleaned) else [cleaned]
        for piece in pieces:
            piece = piece.strip()
            if not piece:
                continue
            candidate = _LEADING_LABEL.sub("", piece)
            try:
                number = normalize_phone(candidate)
            except InvalidPhone as exc:
                digits = _NOT_DIGIT.sub("", candidate)
                if 5 <= len(digits) <= 7:
                    refused.append((piece, f"«{piece[:40]}» — городской номер без кода города."))
                elif not digits:
                    refused.append((piece, f"«{piece[:40]}» — не номер телефона."))
                else:
                    refused.append((piece, exc.message))
                continue
            if number not in (p for p, _ in valid):
                valid.append((number, split_extension(candidate)[1]))
    return valid, refused, had_comment


def _company(record_fields: dict[str, Any], name: str, full_name: str) -> tuple[bool, bool]:
    """(is a company or sole proprietor, the file said so explicitly)."""
    if _LEGAL_FORM.match(name) or _LEGAL_WORDS.search(full_name) or _LEGAL_FORM.match(full_name):
        return True, True  # 1C files a sole proprietor (ИП) as a natural person; for us it is a company client
    kind = text(record_fields.get("client_type", "")).lower()
    if kind in ("company", "person"):
        return kind == "company", True
    if kind.startswith(("юр", "индивидуальн", "ип", "организац", "компан")):
        return True, True
    if kind.startswith(("физ", "частн")):
        return False, True
    return False, False


def _name(fields: dict[str, Any]) -> tuple[str, str, bool, bool]:
    """(the name to keep, ``person``/``company``, whether the file said which, whether it held a no-break space)."""
    short = text(fields.get("name", ""))
    full = text(fields.get("full_name", ""))
    if not short and fields.get("name_parts"):
        short = " ".join(text(p) for p in fields["name_parts"] if text(p))
    company, explicit = _company(fields, short, full)
    chosen = short or full
    if not company and full and (not short or _INITIALS.search(short)):
        chosen = full
    name = " ".join(chosen.replace("\x00", "").split())
    if not company and name.isupper():
        name = name.title()
    return name, ("company" if company else "person"), explicit, "\xa0" in chosen


def _int(value: Any) -> int | None:
    if value == "" or value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value) if 0 <= value < 10_000_000 else None
    digits = _NOT_DIGIT.sub("", text(value).split(",")[0].split(".")[0])
    return int(digits) if digits and len(digits) <= 7 else None


def _past(visit: date | None, outcome: RowOutcome, today: date) -> date | None:
    if visit and visit > today:
        outcome.warn("date_in_future", f"Дата визита {visit:%d.%m.%Y} в будущем — отброшена.")
        return None
    return visit


_CAR_CELLS = ("car", "make", "model", "year", "plate", "vin", "mileage", "visit_date")


def _raw(record: SourceRecord) -> dict[str, Any]:
    """The row's cells as text, for the rejected-rows file: the visit date the layout moved to the
    row's own car, and under ``detail_cars`` the car rows a 1C report put below the client."""
    fields = record.fields
    raw: dict[str, Any] = {f: text(v) for f, v in fields.items() if f not in ("phone", "name_parts")}
    raw["phone"] = ", ".join(text(v) for v in fields.get("phone", []))
    own = [car for car in record.cars if car.line == record.line]
    if own and not raw.get("visit_date"):
        raw["visit_date"] = text(own[0].visit_date)
    raw["detail_cars"] = [{"line": car.line, **{f: text(getattr(car, f)) for f in _CAR_CELLS}}
                          for car in record.cars if car.line != record.line]
    return raw


def _reject(outcome: RowOutcome, record: SourceRecord, code: str, reason: str, column: str = "",
            value: str = "") -> RowOutcome:
    outcome.status, outcome.reason_code, outcome.reason = REJECTED, code, reason
    outcome.column, outcome.value = column, value[:200]
    outcome.raw = _raw(record)
    return outcome


def _car_is_empty(car: CarInput) -> bool:
    for value in (car.car, car.make, car.model, car.plate, car.vin):
        if value is not None and value != "" and not (isinstance(value, str) and not value.strip()):
            return False
    return True


def _may_start_formula(fields: dict[str, Any]) -> bool:
    """False when no cell can start a formula: ``starts_formula`` needs a ``(`` or ``|``."""
    for value in fields.values():
        if isinstance(value, str):
            if "(" in value or "|" in value:
                return True
        elif isinstance(value, list):
            for part in value:
                if isinstance(part, str) and ("(" in part or "|" in part):
                    return True
    return False


class Validator:
    """Turns the records of one file into outcomes (no DB access).

    Big files repeat values (the same names, car titles, visit dates), so what a text value
    gives is worked out once and remembered for the rest of the file (and its strings shared);
    values of other types (numbers, dates) are worked out every time.
    """

    def __init__(self, today: date) -> None:
        self.today = today
        self._names: dict[tuple[str, str, tuple[str, ...], str], tuple[str, str, bool, bool, str | None]] = {}
        self._dates: dict[str, tuple[date | None, tuple[str, str] | None]] = {}
        self._titles: dict[tuple[str, str, str], tuple[str, str, str]] = {}

    def __call__(self, record: SourceRecord) -> RowOutcome:
        """The outcome of one record (status ``imported`` is refined to new/merged/updated by the engine)."""
        outcome = RowOutcome(loc=record.loc, line=record.line, status=NEW, source_id=record.source_id)
        if record.skip_reason:
            outcome.status, outcome.reason_code = SKIPPED, record.skip_reason
            outcome.reason = SKIP_REASONS.get(record.skip_reason, record.skip_reason)
            return outcome
        fields = record.fields
        if record.warnings:
            outcome.warnings = list(record.warnings)
        labels = record.column_labels

        if record.formula_columns:
            column = record.formula_columns[0]
            return _reject(outcome, record, "formula_injection",
                           f"Ячейка-формула в колонке «{column}» — строка не загружена.", column)
        if _may_start_formula(fields):
            for field in TEXT_FIELDS:
                value = fields.get(field)
                if isinstance(value, str) and starts_formula(value):
                    column = labels.get(field, FIELDS.get(field, field))
                    return _reject(outcome, record, "formula_injection",
                                   f"Значение в колонке «{column}» начинается как формула — строка не загружена.",
                                   column, value)
            for part in fields.get("name_parts", []):
                if isinstance(part, str) and starts_formula(part):
                    return _reject(outcome, record, "formula_injection", "Имя начинается как формула — строка не загружена.",
                                   "Имя", part)

        name, outcome.kind, outcome.kind_explicit, nbsp, problem = self._name(fields)
        if nbsp:
            outcome.warn("nbsp_in_name", "Неразрывный пробел в имени заменён обычным.")
        if problem is not None:
            column = labels.get("name") or labels.get("last_name") or "ФИО"
            return _reject(outcome, record, "no_name", f"Нет имени клиента: {problem}", column, name)
        outcome.name = name

        cells = fields.get("phone") or ()
        # One cell holding one plainly written mobile (most rows): what split_phones would say, directly.
        number = fast_russian_mobile(text(cells[0])) if len(cells) == 1 and type(cells[0]) is str else None
        if number is not None:
            phones, refused, had_comment = ((number, ""),), [], False
        else:
            phones, refused, had_comment = split_phones(cells)
        outcome.phones = phones
        if had_comment and phones:
            outcome.warn("phone_with_comment", "Текст после номера телефона отброшен.")

        raw_inn = text(fields.get("inn", ""))
        if raw_inn and "/" in raw_inn:
            raw_inn = raw_inn.split("/", 1)[0].strip()
            outcome.warn("inn_kpp_combined", "«ИНН/КПП» в одном поле — взят ИНН до «/».")
        if raw_inn and raw_inn.isdigit() and len(raw_inn) in (9, 11):
            raw_inn = raw_inn.zfill(len(raw_inn) + 1)  # a numeric cell lost the leading zero
        if raw_inn:
            try:
                outcome.inn = normalize_inn(raw_inn)
            except InvalidInn as exc:
                code = "inn_checksum_invalid" if raw_inn.isdigit() and len(raw_inn) in (10, 12) else "inn_invalid"
                outcome.warn(code, f"{exc.message} ИНН отброшен.")

        if not phones and not outcome.inn:
            column = labels.get("phone", "Телефон")
            if refused:
                piece, message = refused[0]
                return _reject(outcome, record, "no_valid_phone", f"Нет действующего телефона: {message}", column, piece)
            return _reject(outcome, record, "no_valid_phone", "Нет ни телефона, ни ИНН.", column, "")
        for piece, message in refused:
            outcome.warn("phone_partially_invalid", f"Номер «{piece[:40]}» отброшен: {message}")
        for number, _ext in phones:
            if not number.startswith("+7") or number.startswith("+77"):
                outcome.warn("phone_foreign", f"Иностранный номер {number} сохранён как есть.")

        raw_email = text(fields.get("email", ""))
        if raw_email:
            try:
                outcome.email = normalize_email(raw_email)
                if outcome.email != raw_email:
                    outcome.warn("email_normalize", "E-mail приведён к нижнему регистру.")
            except InvalidEmail as exc:
                outcome.warn("email_invalid", f"{exc.message} Отброшен.")
        if "comment" in fields:
            outcome.comment = strip_controls(text(fields["comment"]))[:2000]

        for field in ("created_date", "birth_date"):
            if field in fields:
                _value, problem = self._date(fields[field])
                if problem:
                    outcome.warn(*problem)
        if "visit_date" in fields:
            visit, problem = self._date(fields["visit_date"])
            if problem:
                outcome.warn(*problem)
            visit = _past(visit, outcome, self.today)
            if visit:
                outcome.add_visit((visit, "", ""))

        if record.cars:
            self._cars(record, outcome)
        if record.group and "поставщик" in record.group.lower():
            outcome.warn("supplier_group", f"В группе «{record.group}» — загружен как клиент.")
        return outcome

    def _name(self, fields: dict[str, Any]) -> tuple[str, str, bool, bool, str | None]:
        """``_name`` of the record and, when it is no usable name, why (``clean_name``'s message)."""
        short, full, parts, kind = (fields.get("name", ""), fields.get("full_name", ""), fields.get("name_parts") or (),
                                    fields.get("client_type", ""))
        cacheable = (type(short) is str and type(full) is str and type(kind) is str
                     and all(type(part) is str for part in parts))
        key = (short, full, tuple(parts), kind) if cacheable else None
        if key is not None and key in self._names:
            return self._names[key]
        name, kind_name, explicit, nbsp = _name(fields)
        try:
            found = (clean_name(name), kind_name, explicit, nbsp, None)
        except InvalidName as exc:
            found = (name, kind_name, explicit, nbsp, exc.message)
        if key is not None:
            self._names[key] = found
        return found

    def _date(self, value: Any) -> tuple[date | None, tuple[str, str] | None]:
        if type(value) is not str:
            return parse_date(value)
        found = self._dates.get(value)
        if found is None:
            found = self._dates[value] = parse_date(value)
        return found

    def _cars(self, record: SourceRecord, outcome: RowOutcome) -> None:
        seen_cars: set[str] = set()
        for car_input in record.cars:
            if _car_is_empty(car_input) and not text(car_input.visit_date):
                continue
            car = self._car(car_input, outcome)
            if car is None:
                continue
            key = car.vin or car.plate
            if key not in seen_cars:
                seen_cars.add(key)
                outcome.add_car(car)
            if car.visit_date:
                outcome.add_visit((car.visit_date, car.vin, car.plate))

    def _title(self, car: CarInput) -> tuple[str, str, str]:
        """(title, make, model) of a car: a title cell «Lada Vesta» gives the make and model when they are empty."""
        key = (car.car, car.make, car.model)
        found = self._titles.get(key) if type(key[0]) is str and type(key[1]) is str and type(key[2]) is str else None
        if found is None:
            make, model = strip_controls(text(car.make)).strip(), strip_controls(text(car.model)).strip()
            title = strip_controls(text(car.car)).strip()
            if title and not make:
                make, _, rest = title.partition(" ")
                model = model or rest.strip()
            found = (title, make, model)
            if type(key[0]) is str and type(key[1]) is str and type(key[2]) is str:
                self._titles[key] = found
        return found

    def _car(self, car: CarInput, outcome: RowOutcome) -> Car | None:
        title, make, model = self._title(car)
        result = Car(make=make[:100], model=model[:100], line=car.line)
        raw_vin, raw_plate = text(car.vin), text(car.plate)
        if raw_vin:
            if _VIN_AS_IS.match(raw_vin):
                result.vin = raw_vin  # already canonical: normalize_vin would return it unchanged
            else:
                try:
                    result.vin = normalize_vin(raw_vin)
                    if _CYRILLIC_IN_VIN.search(raw_vin):
                        outcome.warn("vin_cyrillic_lookalikes",
                                     f"VIN «{raw_vin}»: кириллические буквы заменены латинскими.")
                except InvalidVin as exc:
                    outcome.warn("vin_invalid", f"{exc.message} VIN отброшен (строка {car.line}).")
        if raw_plate:
            if _PLATE_AS_IS.match(raw_plate):
                result.plate = raw_plate  # already canonical (Cyrillic, no spaces, no RUS)
            else:
                try:
                    result.plate = normalize_plate(raw_plate)
                    if _LATIN_IN_PLATE.search(raw_plate.upper().replace("RUS", "")):
                        outcome.warn("plate_latin_lookalikes",
                                     f"Госномер «{raw_plate}»: латинские буквы заменены кириллицей.")
                except InvalidPlate as exc:
                    outcome.warn("plate_invalid", f"{exc.message} Госномер отброшен (строка {car.line}).")
        year = _int(car.year)
        result.year = year if year and 1900 <= year <= self.today.year + 1 else None
        result.mileage_km = _int(car.mileage)
        visit, problem = self._date(car.visit_date)
        if problem:
            outcome.warn(*problem)
        result.visit_date = _past(visit, outcome, self.today)
        if not result.vin and not result.plate:
            if make or model or raw_vin or raw_plate:
                outcome.warn("car_without_identifier", f"У автомобиля «{title or make}» нет ни VIN, ни госномера — не создан.")
            if result.visit_date:
                outcome.add_visit((result.visit_date, "", ""))
            return None
        return result


def validate(record: SourceRecord, today: date) -> RowOutcome:
    """The outcome of one record; ``Validator`` does the same for a whole file, faster."""
    return Validator(today)(record)
