"""Admin for clients and their cars: staff see the clients linked to their branches."""

from django import forms
from django.contrib import admin
from django.db.models import Prefetch, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from unfold.admin import ModelAdmin, TabularInline
from unfold.decorators import display

from bookings.models import Booking
from clients.models import Client, ClientPhone, Consent, Vehicle
from clients.normalize import normalize_phone, normalize_plate, normalize_vin
from clients.selectors import client_search_q, display_phone, plate_search_variant
from clients.services import clean_name
from workshops.admin_scope import BranchScopedAdminMixin, ScopedChoicesMixin, user_workshop_ids
from workshops.errors import DomainError
from workshops.unfold_speedups import FastActionCheckboxMixin


def _normalised(value: str, normalise) -> str:
    """``normalise(value)`` with a ``DomainError`` turned into a form error; empty stays empty."""
    if not value or not value.strip():
        return ""
    try:
        return normalise(value)
    except DomainError as exc:
        raise forms.ValidationError(exc.message) from exc


class ClientForm(forms.ModelForm):
    def clean_name(self) -> str:
        # The same rule as the bot and the import: no control characters, one line, has letters.
        return _normalised(self.cleaned_data["name"], clean_name)


class ClientPhoneForm(forms.ModelForm):
    class Meta:
        model = ClientPhone
        fields = ("number", "extension", "position")

    def clean_number(self) -> str:
        return _normalised(self.cleaned_data["number"], normalize_phone)


class ClientPhoneInline(ScopedChoicesMixin, TabularInline):
    model = ClientPhone
    form = ClientPhoneForm
    extra = 0
    verbose_name_plural = "телефоны (в любом формате: 8 912 123-45-67, +7 …)"


class VehicleForm(forms.ModelForm):
    class Meta:
        model = Vehicle
        fields = ("client", "make", "model", "plate", "vin", "year", "mileage_km")

    def clean_plate(self) -> str:
        return _normalised(self.cleaned_data["plate"], normalize_plate)

    def clean_vin(self) -> str:
        return _normalised(self.cleaned_data["vin"], normalize_vin)

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("plate") and not cleaned.get("vin") and not self.errors:
            raise forms.ValidationError("Укажите госномер или VIN автомобиля.")
        return cleaned


def cars_booked_elsewhere(pks: list, workshop_ids: list[int]) -> QuerySet:
    """Cars of ``pks`` that another branch has bookings for: deleting one would take it off those
    bookings (``SET_NULL``), which only an owner may do."""
    elsewhere = Booking.objects.filter(vehicle__in=pks).exclude(workshop__in=workshop_ids).values("vehicle")
    return Vehicle.objects.filter(pk__in=elsewhere)


def _booked_elsewhere_message(car: Vehicle) -> str:
    return f"«{car}» — по нему есть записи в другом филиале: удалить автомобиль может только владелец."


class _VehicleFormSet(BaseInlineFormSet):
    """The client page's cars: the «удалить» box of a car another branch booked is refused, as the car's own delete page is."""

    workshop_ids: list[int] | None = None  # the editing user's branches; None for an owner

    def clean(self) -> None:
        super().clean()
        deleted = [form.instance.pk for form in self.deleted_forms if form.instance.pk]
        if deleted and self.workshop_ids is not None:
            refused = [_booked_elsewhere_message(car) for car in cars_booked_elsewhere(deleted, self.workshop_ids)]
            if refused:
                raise forms.ValidationError(refused)


class VehicleInline(ScopedChoicesMixin, TabularInline):
    model = Vehicle
    form = VehicleForm
    formset = _VehicleFormSet
    extra = 0
    fields = ("make", "model", "plate", "vin", "year", "mileage_km")

    def get_formset(self, request: HttpRequest, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        return type(formset.__name__, (formset,), {"workshop_ids": user_workshop_ids(request)})


class ConsentInline(TabularInline):
    """Evidence of consents: shown as recorded, never edited here."""

    model = Consent
    extra = 0
    can_delete = False
    fields = ("purpose", "text_version", "channel", "given_at", "withdrawn_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Client)
class ClientAdmin(FastActionCheckboxMixin, BranchScopedAdminMixin, ModelAdmin):
    """Clients. Search finds a client by name, by a phone in any format and by plate."""

    branch_path = "workshops"
    form = ClientForm
    list_display = ("name", "phones_display", "kind", "vehicles_display", "telegram_linked", "created_at")
    list_filter = ("workshops", "kind")
    search_fields = ("name",)  # widened by client_search_q in get_search_results
    search_help_text = "Имя, телефон в любом формате (8 912 123-45-67, +7…, последние цифры) или госномер."
    inlines = [ClientPhoneInline, VehicleInline, ConsentInline]
    readonly_fields = ("telegram_user_id", "telegram_username", "telegram_blocked_at", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", "kind", "inn", "email", "comment", "workshops")}),
        ("Telegram", {"fields": readonly_fields}),
    )
    ordering = ("name", "id")
    list_per_page = 50

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).prefetch_related(
            Prefetch("phones", queryset=ClientPhone.objects.order_by("position", "id")),
            "vehicles",
        )

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        if not search_term.strip():
            return super().get_search_results(request, queryset, search_term)
        return self.scope_queryset(request, queryset.filter(client_search_q(search_term))), False

    @display(description="телефоны")
    def phones_display(self, obj: Client) -> str:
        return ", ".join(display_phone(phone.number) for phone in obj.phones.all())

    @display(description="автомобили")
    def vehicles_display(self, obj: Client) -> str:
        return ", ".join(str(vehicle) for vehicle in obj.vehicles.all())

    @display(description="Telegram", boolean=True)
    def telegram_linked(self, obj: Client) -> bool:
        return obj.telegram_user_id is not None


@admin.register(Vehicle)
class VehicleAdmin(FastActionCheckboxMixin, BranchScopedAdminMixin, ModelAdmin):
    branch_path = "client__workshops"
    form = VehicleForm
    list_display = ("__str__", "plate", "vin", "client", "year")
    list_select_related = ("client",)
    search_fields = ("plate", "vin", "make", "model")
    search_help_text = "Госномер в любом написании (a123bc77, А 123 ВС 77), VIN, марка или модель."
    autocomplete_fields = ("client",)
    ordering = ("-id",)

    def get_choices_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_choices_queryset(request).order_by("plate")

    def used_beyond_scope(self, request: HttpRequest, pks: list, workshop_ids: list[int]) -> list[str]:
        return [_booked_elsewhere_message(car) for car in cars_booked_elsewhere(pks, workshop_ids)]

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        plate = plate_search_variant(search_term)
        if plate:
            return self.scope_queryset(request, queryset.filter(plate=plate)), False
        return super().get_search_results(request, queryset, search_term)
