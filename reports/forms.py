"""The report filter shared by the dashboard and its exports: period and branch."""

from datetime import date, timedelta

from django import forms
from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone
from unfold.widgets import UnfoldAdminSelectWidget, UnfoldAdminTextInputWidget

from reports.periods import PRESETS, Period, ReportPeriodError, period_preset
from reports.selectors import report_workshops_for_user
from workshops.models import Workshop

EXPORT_FORMATS = {"xlsx": "XLSX", "csv": "CSV"}


class DateInput(UnfoldAdminTextInputWidget):
    input_type = "date"

    def format_value(self, value: date | str | None) -> str | None:
        return value.isoformat() if isinstance(value, date) else value


class ReportFilterForm(forms.Form):
    """Period (a preset, or «с» … «по» inclusive) and one of the reader's branches or all of them.

    Only the reader's own branches are choices, so another branch's id is a form error.
    """

    period = forms.ChoiceField(label="Период", choices=PRESETS.items(), initial="month", required=False,
                               widget=UnfoldAdminSelectWidget)
    workshop = forms.ModelChoiceField(label="Филиал", queryset=Workshop.objects.none(), required=False,
                                      empty_label="Все филиалы", widget=UnfoldAdminSelectWidget)
    date_from = forms.DateField(label="с", required=False, widget=DateInput)
    date_to = forms.DateField(label="по (включительно)", required=False, widget=DateInput)

    def __init__(self, *args, user: AbstractBaseUser, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["workshop"].queryset = report_workshops_for_user(user)

    def clean(self) -> dict:
        data = super().clean()
        name = data.get("period") or "month"
        workshop = data.get("workshop")
        try:
            if name == "custom":
                if not data.get("date_from") or not data.get("date_to"):
                    raise ReportPeriodError("Для своего периода укажите даты «с» и «по».")
                data["report_period"] = Period(data["date_from"], data["date_to"] + timedelta(days=1))
            else:
                today = timezone.localdate(timezone=workshop.tz) if workshop else timezone.localdate()
                data["report_period"] = period_preset(name, today=today)
        except ReportPeriodError as error:
            raise forms.ValidationError(error.message, code=error.code) from None
        data["period"] = name
        return data

    def selection(self) -> tuple[list[Workshop], Period]:
        """The branches and period chosen (call after ``is_valid()``)."""
        workshop = self.cleaned_data.get("workshop")
        workshops = [workshop] if workshop else list(self.fields["workshop"].queryset)
        return workshops, self.cleaned_data["report_period"]


def default_selection(user: AbstractBaseUser) -> tuple[list[Workshop], Period]:
    """All the reader's branches, this month: what an empty or invalid filter falls back to."""
    return list(report_workshops_for_user(user)), period_preset("month", today=timezone.localdate())
