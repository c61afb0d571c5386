"""Spreadsheet exports that cannot run formulas: a cell starting with ``= + - @``, tab or CR gets a
leading apostrophe (shown as text by Excel and LibreOffice), except phones in E.164, which stay
readable as they are (``+79121234567`` is not a formula in any spreadsheet).
"""

import re
from typing import Any

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_E164 = re.compile(r"^\+\d{7,15}$")


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


def neutralise_dataset(dataset: Any) -> Any:
    """A tablib ``Dataset`` with every cell passed through ``neutralise`` (in place; returned)."""
    rows = [tuple(neutralise(cell) for cell in row) for row in dataset]
    del dataset[:]
    for row in rows:
        dataset.append(row)
    return dataset
