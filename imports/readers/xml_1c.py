"""XML from 1C and web shops: EnterpriseData (any version), CommerceML 2, the 1C 7.7 exchange file.

Namespaces are ignored (EnterpriseData puts its version there). Files are read with
``iterparse`` and each object is dropped once read, so memory stays flat. A DTD is refused:
client lists never need one, and it is how XML bombs are built.
"""

import io
import re
import xml.etree.ElementTree as ET
from typing import Any, Iterator
from xml.parsers.expat import errors as expat_errors

from imports import limits
from imports.errors import CorruptFile, TooManyRows, UnsupportedFormat
from imports.records import SourceRecord

_DTD = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)
_DECLARED_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([\w.:-]{1,40})["']""")

# What expat's English messages mean, for the errors a damaged or truncated export produces.
_EXPAT_RU = {
    expat_errors.codes[message]: text
    for message, text in (
        (expat_errors.XML_ERROR_TAG_MISMATCH, "закрывающий тег не совпадает с открывающим"),
        (expat_errors.XML_ERROR_NO_ELEMENTS, "файл обрывается (нет закрывающего тега)"),
        (expat_errors.XML_ERROR_UNCLOSED_TOKEN, "файл обрывается посреди тега"),
        (expat_errors.XML_ERROR_PARTIAL_CHAR, "файл обрывается посреди символа"),
        (expat_errors.XML_ERROR_INVALID_TOKEN, "недопустимый символ или разметка"),
        (expat_errors.XML_ERROR_SYNTAX, "синтаксическая ошибка"),
        (expat_errors.XML_ERROR_JUNK_AFTER_DOC_ELEMENT, "лишний текст после конца документа"),
        (expat_errors.XML_ERROR_UNDEFINED_ENTITY, "неизвестная ссылка «&…;»"),
        (expat_errors.XML_ERROR_BAD_CHAR_REF, "недопустимая ссылка на символ «&#…;»"),
        (expat_errors.XML_ERROR_DUPLICATE_ATTRIBUTE, "атрибут повторён"),
        (expat_errors.XML_ERROR_INCORRECT_ENCODING, "кодировка в объявлении <?xml?> не совпадает с содержимым"),
        (expat_errors.XML_ERROR_UNKNOWN_ENCODING, "неизвестная кодировка"),
        (expat_errors.XML_ERROR_UNCLOSED_CDATA_SECTION, "не закрыт блок CDATA"),
    )
}

_XML_ERRORS = (ET.ParseError, LookupError, ValueError)
"""What ``iterparse`` raises on a file it cannot read: a parse error, an unknown declared
encoding (``LookupError``), or a declared multi-byte encoding expat cannot take (``ValueError``)."""


def _unreadable(exc: Exception, data: bytes) -> CorruptFile:
    """The refusal for XML the parser gave up on, in Russian and with the place (the parser's text is English)."""
    if isinstance(exc, ET.ParseError):
        line, column = exc.position
        what = _EXPAT_RU.get(exc.code, "ошибка разметки")
        return CorruptFile(
            f"XML повреждён: {what} (строка {line}, позиция {column + 1}). Выгрузите файл из 1С заново."
        )
    declared = _DECLARED_ENCODING.match(data[:200])
    name = f"«{declared.group(1).decode('ascii')}»" if declared else "в объявлении <?xml?>"
    return CorruptFile(
        f"XML в кодировке {name}, которую не удалось прочитать. Выгрузите файл из 1С заново в UTF-8 или windows-1251."
    )


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(element: ET.Element, *path: str) -> ET.Element | None:
    current: ET.Element | None = element
    for name in path:
        if current is None:
            return None
        current = next((c for c in current if _local(c.tag) == name), None)
    return current


def _text(element: ET.Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


def _root_name(data: bytes) -> str:
    try:
        for _event, element in ET.iterparse(io.BytesIO(data), events=("start",)):
            return _local(element.tag)
    except _XML_ERRORS as exc:
        raise _unreadable(exc, data) from exc
    return ""


def read_xml(data: bytes) -> tuple[list[SourceRecord], dict[str, Any]]:
    """Records of a supported exchange file; others are refused with what the file seems to be."""
    if _DTD.search(data[:65536]):
        raise UnsupportedFormat("XML с объявлением DTD/ENTITY не принимается (так устроены XML-бомбы).")
    root = _root_name(data)
    readers = {"Message": read_enterprise_data, "EnterpriseData": read_enterprise_data,
               "КоммерческаяИнформация": read_commerceml, "ФайлОбмена": read_exchange_77}
    if root not in readers:
        raise UnsupportedFormat(
            f"Неизвестный XML (корневой элемент «{root}»). Поддерживаются: 1С EnterpriseData, "
            "CommerceML 2 и файл обмена «Конвертация данных» (перенос из 1С 7.7)."
        )
    try:
        records, label = readers[root](data)
    except _XML_ERRORS as exc:
        raise _unreadable(exc, data) from exc
    if len(records) > limits.MAX_ROWS:
        raise TooManyRows(f"В файле больше {limits.MAX_ROWS} объектов. Выгрузите его частями.")
    return records, {"sheet": "", "header_row": None, "columns": [], "notes": [label], "xml": label}


def _objects(data: bytes, depth: int) -> Iterator[ET.Element]:
    """Elements at ``depth`` below the root (root = 0), each freed after the caller is done with it."""
    level = -1
    parents: list[ET.Element] = []
    for event, element in ET.iterparse(io.BytesIO(data), events=("start", "end")):
        if event == "start":
            level += 1
            parents.append(element)
            continue
        parents.pop()
        if level == depth:
            yield element
            if parents:
                parents[-1].remove(element)
        level -= 1


def _kind(value: str) -> str:
    value = value.lower()
    if value.startswith(("юр", "юридическ")):
        return "company"
    if value.startswith(("физ", "физическ")):
        return "person"
    return ""


# --- 1C EnterpriseData ----------------------------------------------------------------

def _contact_value(row: ET.Element) -> str:
    """The readable value of one contact: the Представление of the embedded contact-info XML."""
    values = _text(_child(row, "ЗначенияПолей"))
    if values.startswith("<"):
        try:
            inner = ET.fromstring(values)
        except _XML_ERRORS:
            return values
        shown = inner.get("Представление", "")
        if shown:
            return shown
        for part in inner.iter():
            if _local(part.tag) == "Состав":
                if part.get("Номер"):
                    return f"+{part.get('КодСтраны', '7')} {part.get('КодГорода', '')} {part.get('Номер')}".strip()
                if part.get("Значение"):
                    return part.get("Значение", "")
        return ""
    return values or _text(_child(row, "Представление"))


def read_enterprise_data(data: bytes) -> tuple[list[SourceRecord], str]:
    version = re.search(rb"EnterpriseData/(\d+(?:\.\d+)*)", data[:4096])
    label = f"1С EnterpriseData {version.group(1).decode() if version else ''}".strip()
    records: list[SourceRecord] = []
    seen: set[str] = set()
    counter = 0
    for element in _objects(data, 2):
        name = _local(element.tag)
        if name != "Справочник.Контрагенты":
            if name.startswith(("Справочник.", "Документ.", "РегистрСведений.", "Перечисление.")):
                reason = "own_organization" if name == "Справочник.Организации" else (
                    "document" if name.startswith("Документ.") else "not_counterparty")
                records.append(SourceRecord(loc=name, line=0, skip_reason=reason))
            continue
        counter += 1
        keys = _child(element, "КлючевыеСвойства")
        ref = _text(_child(keys, "Ссылка")) if keys is not None else ""
        fields: dict[str, Any] = {}
        if keys is not None:
            fields["name"] = _text(_child(keys, "Наименование"))
            fields["full_name"] = _text(_child(keys, "НаименованиеПолное"))
            fields["inn"] = _text(_child(keys, "ИНН"))
            fields["client_type"] = _kind(_text(_child(keys, "ЮридическоеФизическоеЛицо")))
        comment = _text(_child(element, "Комментарий"))
        if comment:
            fields["comment"] = comment
        phones, emails = [], []
        for row in (_child(element, "КонтактнаяИнформация") or []):
            kind = _text(_child(row, "ВидКонтактнойИнформации")) or _text(_child(row, "ВидКонтактнойИнформации", "Наименование"))
            value = _contact_value(row)
            if "телефон" in kind.lower() and value:
                phones.append(value)
            elif "почт" in kind.lower() and value:
                emails.append(value)
        if phones:
            fields["phone"] = phones
        if emails:
            fields["email"] = emails[0]
        record = SourceRecord(loc=f"Справочник.Контрагенты #{counter} Ссылка={ref}", line=counter, fields=fields,
                              source_id=ref)
        if ref and ref in seen:
            record.warnings.append(("duplicate_object", "Тот же объект (Ссылка) повторён в сообщении."))
        seen.add(ref)
        records.append(record)
    return records, label


# --- CommerceML 2 --------------------------------------------------------------------

def read_commerceml(data: bytes) -> tuple[list[SourceRecord], str]:
    """Buyers of the orders (documents); each document's buyer is one record."""
    records: list[SourceRecord] = []
    phone_owner: dict[str, str] = {}
    counter = 0
    for element in _objects(data, 1):
        if _local(element.tag) != "Документ":
            continue
        counter += 1
        doc_id = _text(_child(element, "Ид"))
        buyers = [c for c in (_child(element, "Контрагенты") or []) if _local(c.tag) == "Контрагент"]
        buyer = next((b for b in buyers if _text(_child(b, "Роль")).lower() == "покупатель"), buyers[0] if buyers else None)
        loc = f"Документ #{counter} (Ид {doc_id}) / Контрагент"
        if buyer is None:
            records.append(SourceRecord(loc=loc, line=counter, skip_reason="no_buyer"))
            continue
        fields: dict[str, Any] = {
            "name": _text(_child(buyer, "Наименование")) or _text(_child(buyer, "ПолноеНаименование")),
            "inn": _text(_child(buyer, "ИНН")),
        }
        if not fields["name"]:
            fields["name_parts"] = [_text(_child(buyer, n)) for n in ("Фамилия", "Имя", "Отчество")]
        phones, emails = [], []
        for contact in (_child(buyer, "Контакты") or []):
            kind, value = _text(_child(contact, "Тип")).lower(), _text(_child(contact, "Значение"))
            if "телефон" in kind and value:
                phones.append(value)
            elif ("почт" in kind or "mail" in kind) and value:
                emails.append(value)
        if phones:
            fields["phone"] = phones
        if emails:
            fields["email"] = emails[0]
        buyer_id = _text(_child(buyer, "Ид"))
        record = SourceRecord(loc=loc, line=counter, fields=fields, source_id=buyer_id)
        for phone in phones:
            digits = re.sub(r"\D", "", phone)[-10:]
            owner = phone_owner.setdefault(digits, buyer_id)
            if owner != buyer_id:
                record.warnings.append(("same_phone_other_id", "Другой Ид покупателя с тем же телефоном — тот же клиент."))
        records.append(record)
    return records, "CommerceML 2 (заказы)"


# --- 1C 7.7 universal exchange («Конвертация данных») ---------------------------------

def _properties(element: ET.Element) -> dict[str, Any]:
    """Свойство Имя=… → value (text of Значение, or the nested Ссылка's properties)."""
    found: dict[str, Any] = {}
    for prop in element:
        if _local(prop.tag) != "Свойство":
            continue
        name = prop.get("Имя", "")
        ref = _child(prop, "Ссылка")
        found[name] = _properties(ref) if ref is not None else _text(_child(prop, "Значение"))
    return found


def read_exchange_77(data: bytes) -> tuple[list[SourceRecord], str]:
    """Counterparties (groups skipped) with their contacts, which come as separate register objects."""
    entries: list[tuple[SourceRecord, str]] = []
    contacts: dict[str, list[tuple[str, str]]] = {}
    for element in _objects(data, 1):
        tag = _local(element.tag)
        if tag == "ПравилаОбмена":
            entries.append((SourceRecord(loc="ПравилаОбмена", line=0, skip_reason="exchange_rules_header"), ""))
            continue
        if tag != "Объект":
            continue
        number, kind = element.get("Нпп", ""), element.get("Тип", "")
        ref = _child(element, "Ссылка")
        key = _properties(ref) if ref is not None else {}
        props = _properties(element)
        if kind.endswith("КонтактнаяИнформация"):
            owner = props.get("Объект") or {}
            code = owner.get("Код", "") if isinstance(owner, dict) else ""
            contacts.setdefault(code, []).append((str(props.get("Тип", "")), str(props.get("Представление", ""))))
            continue
        code = str(key.get("Код", ""))
        if not kind.endswith(".Контрагенты"):
            entries.append((SourceRecord(loc=f"Объект Нпп={number}", line=int(number or 0), skip_reason="not_counterparty"), ""))
            continue
        if str(key.get("ЭтоГруппа", "")).lower() == "true":
            entries.append((SourceRecord(loc=f"Объект Нпп={number} (группа {code})", line=int(number or 0),
                                         skip_reason="group_row"), ""))
            continue
        fields: dict[str, Any] = {
            "name": props.get("Наименование", ""), "full_name": props.get("НаименованиеПолное", ""),
            "client_type": _kind(str(props.get("ЮрФизЛицо", ""))), "comment": props.get("Комментарий", ""),
        }
        record = SourceRecord(loc=f"Объект Нпп={number} Код={code}", line=int(number or 0), fields=fields, source_id=code)
        inn = str(props.get("ИНН", ""))
        if "/" in inn:
            inn = inn.split("/", 1)[0]
            record.warnings.append(("inn_kpp_combined", "«ИНН/КПП» в одном поле — взят ИНН до «/»."))
        fields["inn"] = inn
        entries.append((record, code))
    records = []
    for record, code in entries:
        for kind, value in contacts.get(code, []) if code else []:
            if "телефон" in kind.lower() and value:
                record.fields.setdefault("phone", []).append(value)
            elif "почт" in kind.lower() and value:
                record.fields.setdefault("email", value)
        records.append(record)
    return records, "Файл обмена 1С (Конвертация данных, перенос из 7.7)"
