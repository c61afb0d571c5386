"""CSV in UTF-8 (with or without BOM), UTF-16 or cp1251; delimiter ``,`` ``;`` or tab, detected."""

import csv
import io
from collections import Counter

from imports import limits
from imports.errors import CorruptFile, TooManyRows
from imports.readers import Table

_DELIMITERS = (";", ",", "\t")


def decode(data: bytes) -> tuple[str, str]:
    """The text and the encoding it was in: a BOM decides, else strict UTF-8, else cp1251."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace"), "UTF-8 (BOM)"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "UTF-16"
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1251"), "Windows-1251"
    except UnicodeDecodeError as exc:
        raise CorruptFile("Не удалось определить кодировку файла. Сохраните его как CSV UTF-8.") from exc


def detect_delimiter(text: str) -> str:
    """The delimiter that splits the first lines into the most consistent number of fields (> 1)."""
    sample = text[:65536]
    best, best_score = ";", (-1, -1)
    for delimiter in _DELIMITERS:
        counts = Counter(len(row) for row in csv.reader(io.StringIO(sample), delimiter=delimiter) if any(row))
        counts.pop(1, None)
        if not counts:
            continue
        width, frequency = counts.most_common(1)[0]
        score = (frequency, width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def read_csv(data: bytes) -> Table:
    """All records with their record number and first physical line (a quoted field may span lines)."""
    text, encoding = decode(data)
    if "\x00" in text:
        raise CorruptFile("В файле есть нулевые байты (NUL): это не текстовый CSV или файл повреждён.")
    delimiter = detect_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[list[str]] = []
    locs: list[str] = []
    lines: list[int] = []
    previous_end = 0
    try:
        for number, row in enumerate(reader, start=1):
            if number > limits.MAX_ROWS + 1:
                raise TooManyRows(
                    f"В файле больше {limits.MAX_ROWS:,} строк. Разбейте его на части по {limits.MAX_ROWS:,} "
                    "и загрузите по очереди — повторы склеятся сами.".replace(",", " ")
                )
            start = previous_end + 1
            previous_end = reader.line_num
            rows.append(row)
            locs.append(f"record {number} (line {start})")
            lines.append(start)
    except csv.Error as exc:
        raise CorruptFile(f"CSV повреждён около строки {previous_end + 1}: {exc}.") from exc
    name = {";": "точка с запятой", ",": "запятая", "\t": "табуляция"}[delimiter]
    return Table(rows=rows, row_locs=locs, row_lines=lines, sheet_name="", notes=[f"Кодировка {encoding}, разделитель — {name}."], ragged=True)
