"""Admin forms for bookings. Every write goes through the engine (``bookings.services``).

The engine is the validator: a ``DomainError`` it raises becomes a form error in Russian.
A form calls the engine from ``clean()`` inside its own savepoint, so a refusal rolls back
everything the form wrote before it (a new client, a new car) and the page re-renders
with the message; ``save()`` only returns the booking the engine wrote.
"""

from datetime import date, datetime, time
from typing import Any

from django import forms
from django.contrib.auth.models import AbstractBaseUser
from django.core.validators import MaxLengthValidator
from django.db import transaction
from unfold.forms import BaseDialogForm
from unfold.widgets import (
    UnfoldAdminSelectWidget,
    UnfoldAdminSingleDateWidget,
    UnfoldAdminSingleTimeWidget,
    UnfoldAdminTextareaWidget,
    UnfoldAdminTextInputWidget,
)

from bookings.models import COMMENT_MAX_LENGTH, Booking, BookingChannel
from bookings.services import booking_create, booking_reschedule
from clients.models import Client, Vehicle
from clients.services import client_get_or_create_by_phone, vehicle_add
from workshops.errors import DomainError
from workshops.models import Bay, Service, Workshop


def book_phone_caller(
    *,
    workshop: Workshop,
    service: Service,
    starts_at: datetime,
    created_by: AbstractBaseUser,
    client: Client | None = None,
    phone: str = "",
    name: str = "",
    plate: str = "",
    vehicle: Vehicle | None = None,
    bay: Bay | None = None,
    comment: str = "",
) -> Booking:
    """Book a caller (``client``, or the one owning ``phone``, created as ``name`` if new).

    One transaction: finding or creating the client, adding the car by ``plate`` and
    ``booking_create(channel=phone)``. Raises the engine's ``DomainError``; then nothing
    of it is written.
    """
    with transaction.atomic():
        if client is None:
            client, _created = client_get_or_create_by_phone(phone=phone, name=name, workshop=workshop)
        if vehicle is None and plate.strip():
            vehicle = vehicle_add(client=client, plate=plate)
        return booking_create(
            workshop=workshop, service=service, client=client, starts_at=starts_at, channel=BookingChannel.PHONE,
            vehicle=vehicle, comment=comment, bay=bay, created_by=created_by,
        )


def local_datetime(day: date, moment: time, workshop: Workshop) -> datetime:
    """``day`` at ``moment`` on the branch's wall clock, as an aware datetime."""
    return datetime.combine(day, moment, tzinfo=workshop.tz)


class EngineForm(forms.ModelForm):
    """A booking form whose ``clean()`` calls the engine; see the module docstring."""

    request = None  # set by BookingAdmin.get_form

    def _post_clean(self) -> None:
        # The engine validated and wrote the booking; the model's own full_clean() on a
        # half-built instance would only repeat (or misreport) its checks.
        pass

    def save(self, commit: bool = True) -> Booking:
        self.save_m2m = lambda: None
        return self.instance

    def call_engine(self, write) -> Any:
        try:
            return write()
        except DomainError as exc:
            raise forms.ValidationError(exc.message, code=exc.code) from exc


class BookingCreateForm(EngineForm):
    """Staff book a client by phone: an existing client, or a phone and a name for a new one."""

    phone = forms.CharField(
        label="или телефон", required=False, max_length=40,
        widget=UnfoldAdminTextInputWidget(attrs={"placeholder": "8 912 123-45-67"}),
        help_text="Если клиента нет в списке: любой формат номера. Найдём по номеру или создадим.",
    )
    name = forms.CharField(
        label="имя (для нового клиента)", required=False, max_length=300, widget=UnfoldAdminTextInputWidget
    )
    plate = forms.CharField(
        label="госномер (если новый автомобиль)", required=False, max_length=20, widget=UnfoldAdminTextInputWidget
    )
    day = forms.DateField(label="дата", widget=UnfoldAdminSingleDateWidget)
    start_time = forms.TimeField(
        label="время", widget=UnfoldAdminSingleTimeWidget, help_text="Местное время филиала."
    )

    class Meta:
        model = Booking
        fields = ("client", "vehicle", "workshop", "service", "bay", "comment")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["client"].required = False
        self.fields["bay"].required = False
        self.fields["bay"].help_text = "Пусто — любой свободный подходящий пост."
        # The model's TextField has no limit and the engine keeps 2000 characters: refuse a longer
        # comment here, as the journal's form does, rather than let the engine cut it silently.
        self.fields["comment"].validators.append(MaxLengthValidator(COMMENT_MAX_LENGTH))
        self.fields["comment"].widget.attrs["maxlength"] = COMMENT_MAX_LENGTH

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        client, phone = cleaned.get("client"), cleaned.get("phone", "").strip()
        if client is None and not phone:
            raise forms.ValidationError("Выберите клиента или введите его телефон.")
        workshop = cleaned["workshop"]
        bay = cleaned.get("bay")
        if bay is not None and bay.workshop_id != workshop.pk:
            raise forms.ValidationError(f"Пост «{bay.name}» — из другого филиала.")
        self.instance = self.call_engine(
            lambda: book_phone_caller(
                workshop=workshop, service=cleaned["service"],
                starts_at=local_datetime(cleaned["day"], cleaned["start_time"], workshop),
                created_by=self.request.user, client=client, phone=phone, name=cleaned.get("name", ""),
                plate=cleaned.get("plate", ""), vehicle=cleaned.get("vehicle"), bay=bay,
                comment=cleaned.get("comment", ""),
            )
        )
        return cleaned


class BookingRescheduleForm(EngineForm):
    """Move an active booking to another day, time or bay (``booking_reschedule``)."""

    day = forms.DateField(label="дата", widget=UnfoldAdminSingleDateWidget)
    start_time = forms.TimeField(label="время", widget=UnfoldAdminSingleTimeWidget, help_text="Местное время филиала.")
    reason = forms.CharField(
        label="причина переноса", required=False, max_length=500,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 2}),
    )

    class Meta:
        model = Booking
        fields = ("bay",)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        booking = self.instance
        local = booking.starts_at.astimezone(booking.workshop.tz)
        self.initial.setdefault("day", local.date())
        self.initial.setdefault("start_time", local.time().replace(tzinfo=None))
        # A view-only user's form has no editable fields at all.
        if bay_field := self.fields.get("bay"):
            bay_field.queryset = bay_field.queryset.filter(workshop=booking.workshop_id)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.errors or not self.has_changed():
            return cleaned
        booking = self.instance
        starts_at = local_datetime(cleaned["day"], cleaned["start_time"], booking.workshop)
        bay = cleaned.get("bay")
        moved_bay = bay if bay is not None and bay.pk != booking.bay_id else None
        if starts_at == booking.starts_at and moved_bay is None:
            return cleaned
        self.instance = self.call_engine(
            lambda: booking_reschedule(
                booking=booking, starts_at=starts_at, channel=BookingChannel.PHONE, bay=moved_bay,
                by_user=self.request.user, reason=cleaned.get("reason", ""),
            )
        )
        return cleaned


class TransitionDialogForm(BaseDialogForm):
    """The reason asked in the status-change dialog; unfold posts it to the detail action."""

    reason = forms.CharField(
        label="комментарий (необязательно)", required=False, max_length=500,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 2}),
    )


class JournalBookingForm(forms.Form):
    """The journal's «book a caller into this cell» form."""

    bay = forms.IntegerField(widget=forms.HiddenInput)
    start_time = forms.TimeField(widget=forms.HiddenInput)
    phone = forms.CharField(
        label="телефон", max_length=40,
        widget=UnfoldAdminTextInputWidget(attrs={"placeholder": "8 912 123-45-67", "autofocus": True}),
        help_text="В любом формате. Если клиент уже есть в базе, возьмём его.",
    )
    name = forms.CharField(label="имя", required=False, max_length=300, widget=UnfoldAdminTextInputWidget,
                           help_text="Нужно для нового клиента.")
    service = forms.ModelChoiceField(
        label="услуга", queryset=Service.objects.none(), empty_label="— выберите —", widget=UnfoldAdminSelectWidget
    )
    plate = forms.CharField(label="госномер", required=False, max_length=20,
                            widget=UnfoldAdminTextInputWidget(attrs={"placeholder": "А123ВС77"}))
    comment = forms.CharField(label="комментарий", required=False, max_length=COMMENT_MAX_LENGTH,
                              widget=UnfoldAdminTextareaWidget(attrs={"rows": 2}))

    def __init__(self, *args, workshop: Workshop, services, bays, day: date, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.workshop, self.day = workshop, day
        self.bays = {bay.pk: bay for bay in bays}
        self.fields["service"].queryset = services

    def clean_bay(self) -> Bay:
        bay = self.bays.get(self.cleaned_data["bay"])
        if bay is None:
            raise forms.ValidationError("Такого поста в этом филиале нет.")
        return bay

    def book(self, user: AbstractBaseUser) -> Booking | None:
        """Book through the engine; on refusal add the engine's message to the form and return ``None``."""
        data = self.cleaned_data
        try:
            return book_phone_caller(
                workshop=self.workshop, service=data["service"],
                starts_at=local_datetime(self.day, data["start_time"], self.workshop),
                created_by=user, phone=data["phone"], name=data.get("name", ""), plate=data.get("plate", ""),
                bay=data["bay"], comment=data.get("comment", ""),
            )
        except DomainError as exc:
            self.add_error(None, exc.message)
            return None
