"""Canonical fields and how usual Russian column headers map to them."""

import re

# Canonical field → label staff see in the mapping form.
FIELDS: dict[str, str] = {
    "name": "ФИО / наименование",
    "full_name": "Полное наименование",
    "last_name": "Фамилия",
    "first_name": "Имя",
    "middle_name": "Отчество",
    "phone": "Телефон",
    "email": "E-mail",
    "inn": "ИНН",
    "kpp": "КПП",
    "client_type": "Вид контрагента (юр./физ. лицо)",
    "comment": "Комментарий",
    "car": "Автомобиль (марка и модель)",
    "make": "Марка",
    "model": "Модель",
    "year": "Год выпуска",
    "plate": "Госномер",
    "vin": "VIN",
    "mileage": "Пробег, км",
    "visit_date": "Дата последнего визита",
    "amount": "Сумма (не загружается)",
    "birth_date": "Дата рождения (не загружается)",
    "created_date": "Дата создания (не загружается)",
    "number": "№ по порядку (не загружается)",
    "": "— не загружать —",
}

NAME_FIELDS = ("name", "full_name", "last_name", "first_name", "middle_name")
CAR_FIELDS = ("car", "make", "model", "year", "plate", "vin", "mileage")
# Fields whose cells may hold text that must not start a formula (everything but phones).
TEXT_FIELDS = ("name", "full_name", "last_name", "first_name", "middle_name", "email", "comment", "car", "make",
               "model", "plate", "vin", "inn", "client_type")

# (pattern over the normalised header, field); the first match wins, so specific before general.
_RULES: list[tuple[str, str]] = [
    (r"^(№|n|no|#|№ ?п/?п|номер п/?п|п/?п|нпп)$", "number"),
    (r"^(полное наименование|наименование полное|полное имя)$", "full_name"),
    (r"^фамилия", "last_name"),
    (r"^(имя|first ?name)$", "first_name"),
    (r"^отчество", "middle_name"),
    (r"^инн ?/ ?кпп$", "inn"),
    (r"^инн", "inn"),
    (r"^кпп", "kpp"),
    (r"(e-?mail|эл\.? ?почта|электронн\w* почт\w*|^почта$)", "email"),
    (r"(телефон|^тел\b|мобильн|^phone|сотов|контактный номер)", "phone"),
    (r"(вид контрагента|юр\.? ?/ ?физ|юрфиз|тип клиента|тип контрагента)", "client_type"),
    (r"^(комментари\w*|примечани\w*|заметк\w*|описание)$", "comment"),
    (r"^(vin|вин|vin[- ]?код|vin ?номер|номер кузова)", "vin"),
    (r"(госномер|гос\.? ?номер|государственный номер|рег\.? ?номер|номер авто|номерной знак|^номер тс)", "plate"),
    (r"^(марка, модель|марка и модель|марка/модель|модель автомобиля|автомобиль|авто|тс|машина)$", "car"),
    (r"^марка", "make"),
    (r"^модель", "model"),
    (r"^год( выпуска)?", "year"),
    (r"^пробег", "mileage"),
    (r"(последн\w* (визит|заказ|посещени|обращени)|дата (последнего )?(визита|посещения|обращения|заказа))",
     "visit_date"),
    (r"^(сумма|оборот|выручка)", "amount"),
    (r"^дата рождения", "birth_date"),
    (r"^(дата создания|дата регистрации|создан)", "created_date"),
    (r"^(фио|ф\.и\.о|фио / наименование|фио/наименование|клиент|наименование|контрагент|покупатель|заказчик|"
     r"имя клиента|название|организация|фио клиента|владелец)", "name"),
]
_COMPILED = [(re.compile(pattern), field) for pattern, field in _RULES]


def normalise_header(text: object) -> str:
    """``' Гос. Номер '`` → ``'гос. номер'``: lower case, ё → е, spaces collapsed."""
    value = " ".join(str(text or "").replace("\xa0", " ").split()).lower().replace("ё", "е")
    return value.strip(" :*")


def recognise(header: object) -> str | None:
    """The canonical field a header names, or ``None`` when it is not one we know."""
    text = normalise_header(header)
    if not text:
        return None
    for pattern, field in _COMPILED:
        if pattern.search(text):
            return field
    return None
