"""From a grid of cells to records: find the header, map the columns, tell data rows from the rest.

Handles what spreadsheets saved from 1C look like: title, period and filter rows above the
table, a two-level header (a group row above the column names), folder rows holding only a
name, «Итого» rows, and reports where a client row is followed by its car rows.
"""

from collections.abc import Iterator
from typing import Any

from imports import limits
from imports.columns import CAR_FIELDS, FIELDS, NAME_FIELDS, normalise_header, recognise
from imports.errors import NoHeader
from imports.readers import Table
from imports.records import CarInput, SourceRecord

_CLIENT_FIELDS = frozenset((*NAME_FIELDS, "phone", "inn", "email"))
_CAR_FIELDS = frozenset(CAR_FIELDS)
_NAME_FIELDS = frozenset(NAME_FIELDS)
_NAME_PARTS = frozenset(("last_name", "first_name", "middle_name"))
_TOTAL_WORDS = ("итого", "всего")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _filled(value: Any) -> bool:
    if value is None or value == "":
        return False
    return not isinstance(value, str) or bool(value.strip())


def _score(row: list[Any]) -> int:
    fields = {recognise(cell) for cell in row if isinstance(cell, str) and cell.strip()}
    fields.discard(None)
    fields.discard("number")
    if not fields & {*NAME_FIELDS, "phone"}:
        return 0
    return len(fields)


def find_header(table: Table) -> tuple[int, int]:
    """(index of the header row, its score); score 0 means none was found."""
    best, best_score = -1, 0
    for index, row in enumerate(table.rows[: limits.HEADER_SEARCH_ROWS]):
        score = _score(row)
        if score > best_score:
            best, best_score = index, score
    return best, best_score


def _labels(table: Table, header: int) -> tuple[list[str], bool]:
    """Column labels, taking the upper level of a two-level header where the lower one is empty.
    No header (``header`` -1, a file of data rows only): empty labels, as many as the widest row."""
    if header < 0:
        return [""] * max((len(row) for row in table.rows[:200]), default=0), False
    width = max((len(row) for row in table.rows[header: header + 200]), default=0)
    lower = [_text(c) for c in table.rows[header]] + [""] * width
    upper: list[str] = []
    two_level = False
    if header > 0:
        above = [_text(c) for c in table.rows[header - 1]]
        if sum(1 for c in above if c) >= 2 and any(not lower[i] and c for i, c in enumerate(above)):
            upper, two_level = above + [""] * width, True
    labels = [lower[i] or (upper[i] if upper else "") for i in range(width)]
    return labels, two_level


def column_plan(labels: list[str], mapping: dict[int, str] | None) -> list[str]:
    """Canonical field per column ('' = not loaded); later duplicates of single-valued fields are dropped."""
    fields: list[str] = []
    seen: set[str] = set()
    for index, label in enumerate(labels):
        field = mapping.get(index) if mapping and index in mapping else (recognise(label) or "")
        if field not in FIELDS:
            field = ""
        if field and field != "phone" and field in seen:
            field = ""
        if field:
            seen.add(field)
        fields.append(field)
    return fields


def _choose_table(tables: list[Table], header_row: int | None) -> tuple[Table, int, list[str]]:
    """The sheet with the client list, the index of its header row (-1: none) and notes for staff.

    ``header_row`` (1-based; 0 = the file has no header) is what staff typed when mapping columns.
    """
    notes: list[str] = []
    scored = [(find_header(t), i, t) for i, t in enumerate(tables)]
    (header, score), _, best = max(scored, key=lambda s: (s[0][1], -s[1]))
    if header_row is not None:
        # The sheet whose columns the mapping form showed: the recognised one, else the first.
        table = best if score >= 2 else tables[0]
        if header_row > len(table.rows):
            raise NoHeader(
                f"В файле нет строки {header_row}: всего строк — {len(table.rows)}. "
                "Укажите номер строки с названиями колонок или 0, если их нет.",
                columns=[_text(c) for c in table.rows[0]] if table.rows else [],
            )
        return table, header_row - 1, notes
    if score < 2:
        sample = tables[0].rows[0] if tables and tables[0].rows else []
        raise NoHeader(
            "Не нашли строку с названиями колонок (ФИО или Наименование, Телефон…). "
            "Укажите, что лежит в каждой колонке.",
            columns=[_text(c) for c in sample],
        )
    for other in tables:
        if other is not best:
            notes.append(f"Лист «{other.sheet_name}» не похож на список клиентов — пропущен.")
    return best, header, notes


def records_from_tables(
    tables: list[Table], *, mapping: dict[int, str] | None = None, header_row: int | None = None
) -> tuple[Iterator[SourceRecord], dict[str, Any]]:
    """Every row of the chosen sheet as a ``SourceRecord`` (in file order, produced as they are read)
    and a description of the columns."""
    if not tables:
        raise NoHeader("В файле нет ни одной заполненной строки.", columns=[])
    table, header, notes = _choose_table(tables, header_row)
    labels, two_level = _labels(table, header)
    fields = column_plan(labels, mapping)
    if mapping is None and not any(f in NAME_FIELDS for f in fields):
        raise NoHeader("Не нашли колонку с именем клиента (ФИО или Наименование).", columns=labels)
    records = _rows_to_records(table, header, two_level, labels, fields)
    columns = []
    for index, label in enumerate(labels):
        samples = [_text(row[index]) for row in table.rows[header + 1: header + 40] if index < len(row) and _filled(row[index])][:3]
        columns.append({"index": index, "label": label, "field": fields[index], "recognised": bool(recognise(label)),
                        "samples": samples})
    info = {
        "sheet": table.sheet_name,
        "header_row": header + 1,
        "two_level_header": two_level,
        "columns": columns,
        "notes": table.notes + notes,
    }
    return records, info


def _rows_to_records(
    table: Table, header: int, two_level: bool, labels: list[str], fields: list[str]
) -> Iterator[SourceRecord]:
    """The records of ``table`` in order. A data record is handed out only once the next data
    record is seen: car rows below it (a report's detail rows) still attach to it until then."""
    rows = table.all_rows()
    top = header - (1 if two_level else 0)
    for index, (row, loc, line) in zip(range(header + 1), rows):
        if index < top:
            yield SourceRecord(loc=loc, line=line, skip_reason="blank" if not any(_filled(c) for c in row) else "title")
        else:
            yield SourceRecord(loc=loc, line=line, skip_reason="header")

    mapped = [(i, f) for i, f in enumerate(fields) if f and f != "number"]
    number_columns = {i for i, f in enumerate(fields) if f == "number"}
    width = len(labels)
    column_labels = {f: labels[i] for i, f in mapped}
    formulas_by_row: dict[int, list[str]] = {}
    for (r, c) in table.formulas:
        formulas_by_row.setdefault(r, []).append(labels[c] if c < width else f"колонка {c + 1}")
    group = ""
    last_data: SourceRecord | None = None
    pending: list[SourceRecord] = []  # the last data record and the rows after it
    header_texts = [normalise_header(label) for label in labels]
    ragged = table.ragged
    for index, (row, loc, line) in enumerate(rows, start=header + 1):
        # The hot loop of a 100,000-row file: plain comparisons, no helper calls per cell
        # (for a text cell, "not c.isspace()" is "c.strip() is not empty" without a copy).
        if number_columns:
            filled = [i for i, c in enumerate(row) if c is not None and c != "" and (type(c) is not str or not c.isspace())
                      and i not in number_columns]
        else:
            filled = [i for i, c in enumerate(row) if c is not None and c != "" and (type(c) is not str or not c.isspace())]
        if not filled:
            record = SourceRecord(loc=loc, line=line, skip_reason="blank")
            if last_data is None:
                yield record
            else:
                pending.append(record)
            continue
        first_cell = row[filled[0]] if not number_columns else next(c for c in row if _filled(c))
        skip = ""
        if _text(first_cell).lower().startswith(_TOTAL_WORDS):
            skip = "total_row"
        else:
            values: dict[str, Any] = {}
            row_width = len(row)
            for i, field in mapped:
                if i < row_width:
                    value = row[i]
                    if value is None or value == "" or (type(value) is str and value.isspace()):
                        continue
                    if field == "phone":
                        values.setdefault("phone", []).append(value)
                    elif field in _NAME_PARTS:
                        values.setdefault("name_parts", []).append(value)
                        values[field] = value
                    else:
                        values[field] = value
            first = filled[0]
            keys = values.keys()
            if (first < width and isinstance(row[first], str) and _may_be(row[first], header_texts[first])
                    and normalise_header(row[first]) == header_texts[first]
                    and all(normalise_header(row[i]) == header_texts[i] for i in filled if i < width)):
                skip = "header"
            elif keys.isdisjoint(_CLIENT_FIELDS) and not (keys.isdisjoint(_CAR_FIELDS) and "visit_date" not in values) \
                    and last_data is not None:
                last_data.cars.append(_car(values, line))
                pending.append(SourceRecord(loc=loc, line=line, skip_reason="detail_row", source_id=last_data.loc))
                continue
            elif (len(filled) == 1 and not keys.isdisjoint(_NAME_FIELDS)
                  and not any(ch.isdigit() for ch in _text(row[filled[0]]))):
                group = _text(row[filled[0]])
                skip = "group_row"
        if skip:
            record = SourceRecord(loc=loc, line=line, skip_reason=skip)
            if last_data is None:
                yield record
            else:
                pending.append(record)
            continue
        record = SourceRecord(loc=loc, line=line, fields=values, group=group, column_labels=column_labels)
        if not keys.isdisjoint(_CAR_FIELDS):
            record.cars.append(_car(values, line))
            values.pop("visit_date", None)
        if index in formulas_by_row:
            record.formula_columns = formulas_by_row[index]
        if ragged and len(row) < width:
            record.warnings.append(("ragged_row", f"Строка короче заголовка: только {len(row)} полей из {width}."))
        yield from pending
        pending = [record]
        last_data = record
    yield from pending


def _may_be(cell: str, header_text: str) -> bool:
    """False when ``normalise_header(cell)`` cannot be ``header_text``: the cell starts with a letter
    or digit (which normalising keeps, lower-cased) that is not the header's first. Most data rows
    are told apart by this alone, without normalising every first cell of a 100,000-row file."""
    first = cell[:1]
    return not first.isalnum() or first.lower().replace("ё", "е")[:1] == header_text[:1]


def _car(values: dict[str, Any], line: int) -> CarInput:
    return CarInput(
        line=line, car=values.get("car", ""), make=values.get("make", ""), model=values.get("model", ""),
        year=values.get("year", ""), plate=values.get("plate", ""), vin=values.get("vin", ""),
        mileage=values.get("mileage", ""), visit_date=values.get("visit_date", ""),
    )
