"""CSV in UTF-8 (with or without BOM), UTF-16 or cp1251; delimiter ``,`` ``;`` or tab, detected."""

import csv
import io
from collections import Counter
from collections.abc import Iterable, Iterator

from imports import limits
from imports.errors import CorruptFile, TooManyRows
from imports.readers import Row, Table, read_ahead

_DELIMITERS = (";", ",", "\t")


def decode(data: bytes) -> tuple[str, str]:
    """The text and the encoding it was in: a BOM decides, else strict UTF-8, else cp1251."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace"), "UTF-8 (BOM)"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "UTF-16"
        except UnicodeDecodeError as exc:
            raise CorruptFile(
                "Файл в кодировке UTF-16 («Текст Юникод») обрезан или повреждён. "
                "Сохраните таблицу заново как CSV UTF-8 или XLSX."
            ) from exc
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1251"), "Windows-1251"
    except UnicodeDecodeError as exc:
        raise CorruptFile("Не удалось определить кодировку файла. Сохраните его как CSV UTF-8.") from exc


def detect_delimiter(text: str) -> str:
    """The delimiter that splits the first lines into the most consistent number of fields (> 1).

    Lines may end in CR alone (Excel for Mac's «CSV»), so the sample is split as ``csv`` reads
    the file: ``newline=""`` recognises CR, LF and CRLF.
    """
    sample = text[:65536]
    best, best_score = ";", (-1, -1)
    for delimiter in _DELIMITERS:
        counts: Counter[int] = Counter()
        try:
            for row in csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter):
                if any(row):
                    counts[len(row)] += 1
        except csv.Error:
            pass  # the 64 KB sample ends inside a quoted field: the rows before it decide
        counts.pop(1, None)
        if not counts:
            continue
        width, frequency = counts.most_common(1)[0]
        score = (frequency, width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _text_stream(data: bytes) -> tuple[Iterable[str], str, str]:
    """The file's lines (newlines kept, as ``csv`` wants them), its encoding and its first 64 KB of text.

    Decodes exactly as ``decode`` does, but lazily: the whole text of a big file is never
    held, only checked to decode once.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text, encoding = decode(data)  # UTF-16 is rare: read whole
        if "\x00" in text:
            raise CorruptFile("В файле есть нулевые байты (NUL): это не текстовый CSV или файл повреждён.")
        return io.StringIO(text, newline=""), encoding, text[:65536]
    text, encoding = decode(data)
    if "\x00" in text:
        raise CorruptFile("В файле есть нулевые байты (NUL): это не текстовый CSV или файл повреждён.")
    sample = text[:65536]
    del text
    buffer = io.BytesIO(data)
    if encoding == "UTF-8 (BOM)":
        buffer.seek(3)
        return io.TextIOWrapper(buffer, encoding="utf-8", errors="replace", newline=""), encoding, sample
    codec = "utf-8" if encoding == "UTF-8" else "cp1251"
    return io.TextIOWrapper(buffer, encoding=codec, newline=""), encoding, sample


def _records(reader: "csv._reader") -> Iterator[Row]:
    """Each record with its place: ``record N (line L)``, L its first physical line (a quoted field may span lines)."""
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
            yield row, f"record {number} (line {start})", start
    except csv.Error as exc:
        raise CorruptFile(f"CSV повреждён около строки {previous_end + 1}: {_csv_problem(exc)}") from exc


def _csv_problem(exc: csv.Error) -> str:
    """What ``csv`` found wrong, in Russian (its own message is English and means nothing to staff)."""
    if "field larger than field limit" in str(exc):
        limit = f"{csv.field_size_limit():,}".replace(",", " ")
        return (f"в ячейке больше {limit} символов — скорее всего, там не закрыта кавычка. "
                "Откройте файл в Excel и сохраните заново.")
    return "строка не разбирается как CSV. Откройте файл в Excel и сохраните заново."


def _count_records(data: bytes, delimiter: str) -> None:
    """Refuse a file of too many records before any of it is processed (only when its line count allows that)."""
    if data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n") < limits.MAX_ROWS:
        return  # fewer line breaks than the limit: cannot hold more records
    lines, _encoding, _sample = _text_stream(data)
    for _record in _records(csv.reader(lines, delimiter=delimiter)):
        pass


def read_csv(data: bytes, *, head_rows: int = 300) -> Table:
    """All records with their record number and first physical line; those after ``head_rows`` are read lazily."""
    lines, encoding, sample = _text_stream(data)
    delimiter = detect_delimiter(sample)
    _count_records(data, delimiter)
    reader = csv.reader(lines, delimiter=delimiter)
    name = {";": "точка с запятой", ",": "запятая", "\t": "табуляция"}[delimiter]
    return read_ahead(_records(reader), head_rows, sheet_name="",
                      notes=[f"Кодировка {encoding}, разделитель — {name}."], ragged=True)
