"""Readers: a file's bytes → ``SourceRecord`` objects, whatever the format.

``read_records`` recognises the format from the content (never from the name alone),
refuses what it cannot read with a Russian message (``ImportRefused``), and hands
tabular files to ``imports.layout`` to find the header, the mapping and the data rows.
"""

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from imports import limits
from imports.errors import (
    CorruptFile,
    FileTooLarge,
    ImportRefused,
    PasswordProtected,
    UnsupportedFormat,
    WrongExtension,
    log_unexpected,
)
from imports.records import SourceRecord

XLSX, XLS, CSV, XML, MXL = "xlsx", "xls", "csv", "xml", "mxl"
FORMAT_LABELS = {XLSX: "Excel (XLSX)", XLS: "Excel 97–2003 (XLS)", CSV: "CSV", XML: "XML 1С / CommerceML"}
ACCEPTED_EXTENSIONS = (".xlsx", ".xls", ".csv", ".txt", ".xml")

logger = logging.getLogger(__name__)

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")


HEAD_ROWS = 300
"""Rows a reader reads ahead: enough to find the header (``limits.HEADER_SEARCH_ROWS``), measure the
table's width and show samples. The rest of a big file is read while it is validated."""

Row = tuple[list[Any], str, int]
"""One row of a table: its cells, where it is in the file (shown to staff) and its line."""


@dataclass
class Table:
    """A grid of cells as read, before the header is looked for.

    ``rows`` (with ``row_locs`` and ``row_lines``) are the first rows of the table, all of them
    for a small one; ``more`` yields the rest, once: big files are not held in memory as a grid.
    """

    rows: list[list[Any]]
    row_locs: list[str]
    row_lines: list[int]
    formulas: dict[tuple[int, int], str] = field(default_factory=dict)
    sheet_name: str = ""
    notes: list[str] = field(default_factory=list)
    ragged: bool = False
    more: Iterator[Row] | None = None

    def all_rows(self) -> Iterator[Row]:
        """Every row in order: the ones read ahead, then the rest."""
        yield from zip(self.rows, self.row_locs, self.row_lines)
        if self.more is not None:
            yield from self.more


def shown_loc(loc: str) -> str:
    """Where a row is, as staff read it: ``row 12`` → «строка 12», ``record 2 (line 3)`` → «запись 2 (строка 3)».

    Readers keep the English form in ``SourceRecord.loc``: it is the row's identity in the
    samples' ``expected_outcomes.json``. Whatever shows a place to people passes it through here;
    XML places («Документ #3 (Ид 1003) / Контрагент») are shown as they are.
    """
    if loc.startswith("row "):
        return "строка " + loc[4:]
    if loc.startswith("record "):
        return "запись " + loc[7:].replace("(line ", "(строка ", 1)
    return loc


def read_ahead(rows: Iterator[Row], count: int, **table: Any) -> Table:
    """A ``Table`` holding the first ``count`` of ``rows`` and yielding the others on demand."""
    head: list[list[Any]] = []
    locs: list[str] = []
    lines: list[int] = []
    for cells, loc, line in rows:
        head.append(cells)
        locs.append(loc)
        lines.append(line)
        if len(head) >= count:
            break
    return Table(rows=head, row_locs=locs, row_lines=lines, more=rows, **table)


def sniff_format(data: bytes, filename: str) -> str:
    """The file's real format from its first bytes; refuses what is not a client list we read."""
    head = data[:4096]
    suffix = PurePath(filename).suffix.lower()
    if suffix == ".mxl" or head.startswith(b"MOXCEL"):
        raise UnsupportedFormat(
            "Это табличный документ 1С (MXL). Откройте его в 1С и сохраните как XLSX "
            "(«Файл → Сохранить как → Лист Excel 2007»), затем загрузите XLSX."
        )
    if head.startswith(b"PK\x03\x04"):
        return XLSX
    if head.startswith(_OLE_MAGIC):
        if _ENCRYPTED_PACKAGE in data:
            raise PasswordProtected(
                "Книга Excel защищена паролем. Откройте её в Excel, снимите пароль "
                "(«Файл → Сведения → Защитить книгу → Зашифровать паролем», пустой пароль) и загрузите снова."
            )
        return XLS
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(b"<?xml") or stripped.startswith(b"<"):
        lowered = stripped[:512].lower()
        if b"<html" in lowered or b"<!doctype html" in lowered or b"<table" in lowered:
            raise UnsupportedFormat(
                "Это HTML-страница, а не таблица Excel (так «выгружают в Excel» некоторые программы). "
                "Откройте файл в Excel и сохраните как XLSX или CSV."
            )
        return XML
    if head[:4] in (b"%PDF",) or head[:8] == b"\x89PNG\r\n\x1a\n" or head[:3] == b"\xff\xd8\xff":
        raise UnsupportedFormat("Это не таблица (PDF или картинка). Загрузите XLSX, XLS, CSV или XML из 1С.")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return CSV  # UTF-16 text: Excel's «Текст Юникод»
    if b"\x00" in data:
        raise CorruptFile(
            "В файле есть нулевые байты (NUL): это не текстовый CSV или файл повреждён. "
            "Сохраните таблицу заново как CSV (UTF-8) или XLSX."
        )
    return CSV


def check_extension(fmt: str, filename: str) -> None:
    """A file whose name promises another format than its content is refused, saying what it really is."""
    suffix = PurePath(filename).suffix.lower()
    expected = {".xlsx": {XLSX}, ".xlsm": {XLSX}, ".xls": {XLS}, ".csv": {CSV}, ".txt": {CSV}, ".tsv": {CSV},
                ".xml": {XML}}.get(suffix)
    if expected is None:
        raise UnsupportedFormat(
            f"Файлы «{suffix or 'без расширения'}» не поддерживаются. Загрузите XLSX, XLS, CSV или XML из 1С."
        )
    if fmt not in expected:
        raise WrongExtension(
            f"Файл называется «{PurePath(filename).name}», но внутри {FORMAT_LABELS.get(fmt, fmt)}. "
            f"Переименуйте его в «.{fmt}» или сохраните заново в нужном формате."
        )


def read_records(
    data: bytes, filename: str, *, mapping: dict[int, str] | None = None, header_row: int | None = None
) -> tuple[list[SourceRecord], dict[str, Any]]:
    """Every record of the file in order, and what was learned about it (format, sheet, columns).

    ``mapping`` (column index → canonical field) and ``header_row`` (1-based) override what
    was recognised. Raises ``ImportRefused`` subclasses with a Russian message. For CSV and
    XLSX the records are produced while they are consumed, so a problem further down a big
    file (too many rows, a broken quote) is raised by the iteration; nothing is written before
    the last record has been validated.
    """
    if len(data) > limits.MAX_FILE_BYTES:
        raise FileTooLarge(
            f"Файл больше {limits.MAX_FILE_BYTES // (1024 * 1024)} МБ. Разбейте его на части или удалите лишние колонки."
        )
    if not data.strip():
        raise CorruptFile("Файл пустой.")
    fmt = sniff_format(data, filename)
    check_extension(fmt, filename)
    head_rows = max(HEAD_ROWS, (header_row or 0) + 250)
    try:
        if fmt == XML:
            from imports.readers.xml_1c import read_xml

            records, info = read_xml(data)
            info["format"] = fmt
            return records, info
        if fmt == CSV:
            from imports.readers.csv_reader import read_csv

            tables = [read_csv(data, head_rows=head_rows)]
        elif fmt == XLSX:
            from imports.readers.excel import read_xlsx

            tables = read_xlsx(data, head_rows=head_rows)
        else:
            from imports.readers.excel import read_xls

            tables = read_xls(data)
    except ImportRefused:
        raise
    except MemoryError:
        raise FileTooLarge("Файл слишком велик, чтобы прочитать его целиком. Разбейте его на части.") from None
    except Exception as exc:  # noqa: BLE001 — the safety net: logged in _unexpected; its text may quote a cell
        raise _unexpected(exc, fmt) from None
    for table in tables:
        if table.more is not None:
            table.more = _guarded(table.more, fmt)
    from imports.layout import records_from_tables

    records, info = records_from_tables(tables, mapping=mapping, header_row=header_row)
    info["format"] = fmt
    return records, info


def _unexpected(exc: Exception, fmt: str) -> CorruptFile:
    """The «corrupt file» refusal for damage a reader did not foresee, logged for us without the file's contents.

    Only the exception's type and the frames are logged: its message may quote a cell (a
    client's name or phone), which must not reach the error log.
    """
    log_unexpected(logger, f"unreadable {fmt} file, the reader raised", exc)
    return CorruptFile(
        f"Файл {FORMAT_LABELS.get(fmt, fmt)} повреждён и не читается. "
        "Откройте его в программе, где он создан, и сохраните заново (XLSX или CSV)."
    )


def _guarded(rows: Iterator[Row], fmt: str) -> Iterator[Row]:
    """``rows`` as they are, except that an unexpected error further down the file becomes ``CorruptFile``."""
    try:
        yield from rows
    except (ImportRefused, MemoryError):
        raise
    except Exception as exc:  # noqa: BLE001 — as in read_records
        raise _unexpected(exc, fmt) from None
