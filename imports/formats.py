"""django-import-export formats for every admin export: formula cells neutralised (see ``safe_export``).

``settings.EXPORT_FORMATS`` lists these, so any ``ExportMixin`` admin in the project uses them.
"""

from typing import Any

from import_export.formats import base_formats

from imports.safe_export import neutralise_dataset


class _Neutralising:
    def export_data(self, dataset: Any, **kwargs: Any) -> Any:
        return super().export_data(neutralise_dataset(dataset), **kwargs)  # type: ignore[misc]


class SafeCSV(_Neutralising, base_formats.CSV):
    pass


class SafeXLSX(base_formats.XLSX):
    def export_data(self, dataset: Any, **kwargs: Any) -> Any:
        return super().export_data(neutralise_dataset(dataset, xlsx=True), **kwargs)


class SafeTSV(_Neutralising, base_formats.TSV):
    pass


SAFE_EXPORT_FORMATS = [SafeXLSX, SafeCSV, SafeTSV]
