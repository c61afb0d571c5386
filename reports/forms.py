"""The report filter shared by the dashboard and its exports: period and branch."""

from datetime import date, timedelta

from django import forms
from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone
from unfold.widgets import UnfoldAdminSelectWidget, UnfoldAdminTextInputWidget

from reports.periods import PRESETS, Period, ReportPeriodError, period_preset
from reports.selectors import report_workshops_for_user
from workshops.dates import RANGE_TEXT, is_plausible
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
        data["workshops"] = [workshop] if workshop else list(self.fields["workshop"].queryset)
        try:
            if name == "custom":
                first, last = data.get("date_from"), data.get("date_to")
                if not first or not last:
                    raise ReportPeriodError("Для своего периода укажите даты «с» и «по».")
                if not (is_plausible(first) and is_plausible(last)):  # the day after 9999-12-31 does not exist
                    raise ReportPeriodError(f"Отчёт строится за даты {RANGE_TEXT}.")
                data["report_period"] = Period(first, last + timedelta(days=1))
            else:
                data["report_period"] = period_preset(name, today=local_today(data["workshops"]))
        except ReportPeriodError as error:
            raise forms.ValidationError(error.message, code=error.code) from None
        data["period"] = name
        return data

    def selection(self) -> tuple[list[Workshop], Period]:
        """The branches and period chosen (call after ``is_valid()``)."""
        return self.cleaned_data["workshops"], self.cleaned_data["report_period"]


def local_today(workshops: list[Workshop]) -> date:
    """«Today» for a report on ``workshops``: their own date when they share a time zone (a
    Vladivostok manager's December starts at their midnight), else the server's."""
    zones = {workshop.timezone for workshop in workshops}
    if len(zones) == 1:
        return timezone.localdate(timezone=workshops[0].tz)
    return timezone.localdate()


def default_selection(user: AbstractBaseUser) -> tuple[list[Workshop], Period]:
    """All the reader's branches, this month: what an empty or invalid filter falls back to."""
    workshops = list(report_workshops_for_user(user))
    return workshops, period_preset("month", today=local_today(workshops))
