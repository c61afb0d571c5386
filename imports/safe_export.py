"""Spreadsheet exports that cannot run formulas and cannot fail on a stray control character.

A cell starting with ``= + - @``, tab or CR gets a leading apostrophe (shown as text by Excel
and LibreOffice), except phones in E.164, which stay readable as they are (``+79121234567`` is
not a formula in any spreadsheet). Every XLSX the project writes also passes its text through
``xlsx_text``: openpyxl refuses control characters that XML 1.0 cannot hold, and its error
would quote the whole value (a client's name) into the log.
"""

import re
from typing import Any

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_E164 = re.compile(r"^\+\d{7,15}$")

# The characters openpyxl refuses (C0 controls but tab, LF and CR). Vertical tab and form feed are
# how some programs break a line inside a cell: they become a space; the others are dropped.
_XLSX_REFUSED = {code: None for code in range(0x20) if ILLEGAL_CHARACTERS_RE.match(chr(code))} | {0x0B: " ", 0x0C: " "}


def xlsx_text(value: Any) -> Any:
    """Text without the characters openpyxl cannot write; other values unchanged."""
    if isinstance(value, str) and ILLEGAL_CHARACTERS_RE.search(value):
        return value.translate(_XLSX_REFUSED)
    return value


def xlsx_cell(value: Any) -> Any:
    """A value ready for an XLSX cell: writable (``xlsx_text``), then neutralised against formulas."""
    return neutralise(xlsx_text(value))


def neutralise(value: Any) -> Any:
    """``=HYPERLINK(…)`` → ``'=HYPERLINK(…)``; ``+79121234567`` and non-text values unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _E164.match(value):
        return "'" + value
    return value


class FormulaSafeExportMixin:
    """For django-import-export resources: every exported cell goes through ``neutralise``.

    Mix into any ``Resource`` used by an admin export (``class R(FormulaSafeExportMixin, ModelResource)``).
    """

    def export_field(self, field: Any, instance: Any, **kwargs: Any) -> Any:
        return neutralise(super().export_field(field, instance, **kwargs))  # type: ignore[misc]


def neutralise_dataset(dataset: Any, *, xlsx: bool = False) -> Any:
    """A tablib ``Dataset`` with every cell passed through ``neutralise`` (in place; returned).

    With ``xlsx``, through ``xlsx_cell``: the dataset is about to become an XLSX.
    """
    clean = xlsx_cell if xlsx else neutralise
    rows = [tuple(clean(cell) for cell in row) for row in dataset]
    del dataset[:]
    for row in rows:
        dataset.append(row)
    return dataset
