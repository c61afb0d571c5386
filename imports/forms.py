"""Admin forms for the import: upload (file + branch) and the column mapping correction."""

from typing import Any

from django import forms
from django.contrib.auth.models import AbstractBaseUser
from unfold.widgets import UnfoldAdminFileFieldWidget, UnfoldAdminIntegerFieldWidget, UnfoldAdminSelectWidget

from imports import limits
from imports.columns import FIELDS
from imports.readers import ACCEPTED_EXTENSIONS
from workshops.selectors import workshops_for_user


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label="Файл", widget=UnfoldAdminFileFieldWidget(attrs={"accept": ",".join(ACCEPTED_EXTENSIONS)}),
        help_text="XLSX, XLS, CSV (UTF-8 или Windows-1251, разделитель любой), XML из 1С (EnterpriseData, "
                  "«Конвертация данных» 7.7) или CommerceML. Файл MXL сначала сохраните в 1С как XLSX.",
    )
    workshop = forms.ModelChoiceField(label="Филиал", queryset=None, widget=UnfoldAdminSelectWidget,
                                      help_text="Клиенты будут видны сотрудникам этого филиала.")

    def __init__(self, *args: Any, user: AbstractBaseUser, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        branches = workshops_for_user(user)
        self.fields["workshop"].queryset = branches
        if branches.count() == 1:
            self.fields["workshop"].initial = branches.first()


class ColumnMappingForm(forms.Form):
    """One choice per column of the file, plus the header row; initial values are what was recognised."""

    header_row = forms.IntegerField(
        label="Строка с заголовками", min_value=0, max_value=limits.HEADER_ROW_MAX, required=False,
        widget=UnfoldAdminIntegerFieldWidget,
        help_text="Номер строки с названиями колонок; 0 — если в файле их нет.",
    )

    def __init__(self, *args: Any, columns: list[dict[str, Any]], header_row: int | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["header_row"].initial = header_row
        if header_row is None:
            # Not found in the file: the columns shown are its first row's cells, which may be a
            # header or already a client. Only staff can tell; guessing would drop a client or import a header.
            self.fields["header_row"].required = True
            self.fields["header_row"].error_messages["required"] = (
                "Укажите номер строки с названиями колонок: 1, если первая строка — заголовки; 0, если в файле их нет."
            )
        choices = [(key, label) for key, label in FIELDS.items()]
        for column in columns:
            label = column["label"] or f"колонка {column['index'] + 1}"
            samples = ", ".join(column.get("samples", []))
            self.fields[f"col_{column['index']}"] = forms.ChoiceField(
                label=label, choices=choices, required=False, initial=column["field"], widget=UnfoldAdminSelectWidget,
                help_text=(f"Например: {samples}" if samples else "") + ("" if column.get("recognised") else " — не распознана"),
            )

    def mapping(self) -> dict[int, str]:
        return {int(name[4:]): value for name, value in self.cleaned_data.items() if name.startswith("col_")}
