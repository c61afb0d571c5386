"""XLSX (python-calamine for the values, openpyxl only where formulas must be found) and XLS (xlrd)."""

import io
import re
import zipfile
import zlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from imports import limits
from imports.errors import CorruptFile, PasswordProtected, TooManyRows, ZipBomb
from imports.readers import Row, Table, read_ahead

_FORMULA_TAG = re.compile(rb"<(?:\w+:)?f[ >/]")
# What a formula tag must contain: looked for first, as plain bytes, because the regular
# expression stops at every tag of a 50 MB sheet.
_FORMULA_HINTS = (b"<f", b":f")


def _too_many_rows() -> TooManyRows:
    return TooManyRows(
        f"На листе больше {limits.MAX_ROWS:,} строк. Разбейте файл на части и загрузите по очереди.".replace(",", " ")
    )


def check_zip(data: bytes) -> zipfile.ZipFile:
    """Open the XLSX container after checking it is not a zip bomb (sizes come from the directory)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, ValueError) as exc:
        raise CorruptFile("Файл XLSX повреждён (архив не читается). Откройте его в Excel и сохраните заново.") from exc
    total = 0
    for info in infos:
        total += info.file_size
        if info.file_size > 1_000_000 and info.file_size > limits.MAX_ZIP_RATIO * max(info.compress_size, 1):
            raise ZipBomb("Файл XLSX распаковывается в подозрительно большой объём (zip-бомба) и не будет открыт.")
    if total > limits.MAX_UNZIPPED_BYTES:
        raise ZipBomb(
            f"Файл XLSX распаковывается больше чем в {limits.MAX_UNZIPPED_BYTES // (1024 * 1024)} МБ. "
            "Разбейте таблицу на части."
        )
    names = {info.filename for info in infos}
    if "xl/workbook.xml" not in names:
        if "EncryptedPackage" in names or "EncryptionInfo" in names:
            raise PasswordProtected("Книга Excel защищена паролем. Снимите пароль и загрузите снова.")
        raise CorruptFile("Это zip-архив, но не книга Excel (XLSX). Загрузите XLSX, XLS, CSV или XML из 1С.")
    return archive


def _has_formulas(archive: zipfile.ZipFile) -> bool:
    """Whether a worksheet holds a formula cell (an ``<f>`` element).

    Read a megabyte at a time: the sheet of 100,000 rows is 50 MB of XML, which read whole
    would sit in memory next to the rows being validated.
    """
    try:
        for info in archive.infolist():
            if not (info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml")):
                continue
            with archive.open(info) as part:
                tail = b""
                while chunk := part.read(1 << 20):
                    piece = tail + chunk
                    if any(hint in piece for hint in _FORMULA_HINTS) and _FORMULA_TAG.search(piece):
                        return True
                    tail = chunk[-64:]  # a tag cut in two by the piece boundary
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        # A damaged byte inside a sheet: deflate fails, or the CRC check at its end does.
        raise CorruptFile("Файл XLSX повреждён (лист не распаковывается). Откройте его в Excel и сохраните заново.") from exc
    return False


def _formula_cells(data: bytes, sheet_name: str) -> dict[tuple[int, int], str]:
    """(row, column) → formula text of the sheet's formula cells, read with openpyxl (formulas, not values)."""
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises whatever its XML and zip layers raise
        raise CorruptFile("Книга Excel повреждена и не читается. Откройте её в Excel и сохраните заново.") from exc
    try:
        sheet = workbook[sheet_name]
        found: dict[tuple[int, int], str] = {}
        for r, row in enumerate(sheet.iter_rows(values_only=True)):
            for c, value in enumerate(row):
                if isinstance(value, str) and value.startswith("="):
                    found[(r, c)] = value
        return found
    except MemoryError:
        raise
    except Exception as exc:
        raise CorruptFile(f"Лист «{sheet_name}» повреждён и не читается. Сохраните книгу заново.") from exc
    finally:
        workbook.close()


def _sheet_rows(sheet: Any, name: str) -> Iterator[Row]:
    """The sheet's rows as lists, numbered from 1, converted one at a time."""
    try:
        for number, row in enumerate(sheet.iter_rows(), start=1):
            if number > limits.MAX_ROWS + 50:
                raise _too_many_rows()
            yield list(row), f"row {number}", number
    except (TooManyRows, MemoryError):
        raise
    except Exception as exc:
        raise CorruptFile(f"Лист «{name}» повреждён и не читается. Сохраните книгу заново.") from exc


def read_xlsx(data: bytes, *, head_rows: int = 300) -> list[Table]:
    """Every non-empty sheet as a table of values; formula cells noted (they are never trusted).

    Rows past the first ``head_rows`` of a sheet are converted to Python only when read.
    """
    from python_calamine import CalamineWorkbook, PasswordError

    has_formulas = _has_formulas(check_zip(data))
    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
    except PasswordError as exc:
        raise PasswordProtected("Книга Excel защищена паролем. Снимите пароль и загрузите снова.") from exc
    except Exception as exc:  # calamine raises its own error types for every kind of damage
        raise CorruptFile("Книга Excel повреждена и не читается. Откройте её в Excel и сохраните заново.") from exc
    tables = []
    for name in workbook.sheet_names:
        try:
            sheet = workbook.get_sheet_by_name(name)
            if sheet.total_height > limits.MAX_ROWS + 50:
                raise _too_many_rows()
        except (TooManyRows, MemoryError):
            raise
        except Exception as exc:
            raise CorruptFile(f"Лист «{name}» повреждён и не читается. Сохраните книгу заново.") from exc
        table = read_ahead(_sheet_rows(sheet, name), head_rows, sheet_name=name)
        if not table.rows:
            continue
        table.formulas = _formula_cells(data, name) if has_formulas else {}
        tables.append(table)
    return tables


def read_xls(data: bytes) -> list[Table]:
    """Every non-empty sheet of an Excel 97–2003 book; date cells become ``datetime``."""
    import xlrd

    try:
        # xlrd prints its warnings about a damaged file to stdout unless given a log of its own
        book = xlrd.open_workbook(file_contents=data, on_demand=True, logfile=io.StringIO())
    except xlrd.biffh.XLRDError as exc:
        if "encrypted" in str(exc).lower():
            raise PasswordProtected("Книга Excel защищена паролем. Снимите пароль и загрузите снова.") from exc
        raise CorruptFile("Книга Excel 97–2003 повреждена и не читается. Сохраните её заново как XLSX.") from exc
    except Exception as exc:
        raise CorruptFile("Книга Excel 97–2003 повреждена и не читается. Сохраните её заново как XLSX.") from exc
    try:
        return _xls_tables(book)
    except (TooManyRows, MemoryError):
        raise
    except Exception as exc:  # xlrd reads a sheet only now (on_demand): damage inside it shows here
        raise CorruptFile("Книга Excel 97–2003 повреждена и не читается. Сохраните её заново как XLSX.") from exc


def _xls_tables(book: Any) -> list[Table]:
    """The opened book's non-empty sheets as tables; raises whatever xlrd raises on a damaged sheet."""
    import xlrd

    tables = []
    for index in range(book.nsheets):
        sheet = book.sheet_by_index(index)
        if sheet.nrows > limits.MAX_ROWS + 50:
            raise _too_many_rows()
        rows = []
        for r in range(sheet.nrows):
            row = []
            for cell in sheet.row(r):
                if cell.ctype == xlrd.XL_CELL_DATE:
                    try:
                        value = xlrd.xldate.xldate_as_datetime(cell.value, book.datemode)
                        row.append(value.date() if value.time() == datetime.min.time() else value)
                    except (ValueError, OverflowError):
                        row.append(cell.value)
                elif cell.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
                    row.append("")
                elif cell.ctype == xlrd.XL_CELL_ERROR:
                    row.append("")
                else:
                    row.append(cell.value)
            rows.append(row)
        book.unload_sheet(index)
        if rows:
            tables.append(Table(
                rows=rows, row_locs=[f"row {i}" for i in range(1, len(rows) + 1)],
                row_lines=list(range(1, len(rows) + 1)), sheet_name=sheet.name,
            ))
    return tables
