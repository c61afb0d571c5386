"""Admin for bookings: the list, the booking page, status actions and the day journal.

Every write goes through the engine: creating (``booking_create``, channel ``phone``),
moving (``booking_reschedule``) and changing status (``booking_transition``), one booking
or many. The list stays fast on millions of rows (``bookings/admin_lists.py``): no
``COUNT(*)``, capped depth, an ordering the ``(workshop, starts_at)`` and ``(starts_at)``
indexes serve, joins for the columns and one query for phones.
"""

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.utils import unquote
from django.core.paginator import Paginator
from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from unfold.admin import ModelAdmin
from unfold.contrib.filters.admin import ChoicesDropdownFilter
from unfold.decorators import action, display

from bookings import journal
from bookings.admin_forms import BookingCreateForm, BookingRescheduleForm, TransitionDialogForm
from bookings.admin_lists import BADGE_CLASSES, BookingDayFilter, CappedPaginator
from bookings.models import TRANSITIONS, Booking, BookingHistory, BookingStatus
from bookings.notifications.admin import booking_notifications_table
from bookings.services import booking_transition
from clients.models import Client, ClientPhone
from clients.selectors import client_search_q, display_phone, plate_search_variant
from workshops.admin_scope import BranchScopedAdminMixin, user_workshop_ids
from workshops.errors import DomainError
from workshops.unfold_speedups import FastActionCheckboxMixin

# The client's rating of the visit, its time in the branch's zone as every other time on the page.
RATING_FIELDS = ("rating", "rated_local")


@admin.register(Booking)
class BookingAdmin(FastActionCheckboxMixin, BranchScopedAdminMixin, ModelAdmin):
    list_display = (
        "local_time", "client_name", "vehicle_display", "service", "bay_display",
        "status_badge", "channel_display",
    )
    list_display_links = ("local_time",)
    list_filter = (
        ("status", ChoicesDropdownFilter),
        "workshop",
        BookingDayFilter,
        ("channel", ChoicesDropdownFilter),
    )
    list_filter_submit = True
    list_select_related = ("workshop", "client", "vehicle", "service", "bay")
    list_per_page = 50
    list_max_show_all = 0
    list_disable_select_all = True  # «select all N» would run a bulk action over a whole filter
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    paginator = CappedPaginator
    ordering = ("-starts_at",)
    sortable_by = ("local_time",)
    search_fields = ("client__name",)  # widened by get_search_results
    search_help_text = "Имя клиента, телефон в любом формате, госномер или номер записи."
    actions = ("confirm_selected", "cancel_selected", "complete_selected", "no_show_selected")
    actions_detail = ("detail_confirm", "detail_cancel", "detail_complete", "detail_no_show")
    autocomplete_fields = ("client", "vehicle")

    # -- queries ------------------------------------------------------------------------
    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .select_related("workshop", "client", "vehicle", "service", "bay")
            .prefetch_related(Prefetch("client__phones", queryset=ClientPhone.objects.order_by("position", "id")))
        )

    def get_choices_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_choices_queryset(request).select_related("workshop", "service", "client")

    def get_paginator(self, request: HttpRequest, queryset: QuerySet, per_page: int, *args, **kwargs):
        if queryset.model is not Booking:  # the object-history page pages log entries
            return Paginator(queryset, per_page, *args, **kwargs)
        return super().get_paginator(request, queryset, per_page, *args, **kwargs)

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        term = search_term.strip()
        if not term:
            return queryset, False
        # Matching client ids first: a handful of ids lets the planner use the (client,
        # starts_at) index instead of walking the whole list in date order.
        client_ids = list(Client.objects.filter(client_search_q(term)).order_by().values_list("pk", flat=True)[:500])
        q = Q(client_id__in=client_ids)
        if plate := plate_search_variant(term):
            q |= Q(vehicle__plate=plate)
        number = term.lstrip("#№ ")
        if number.isdigit() and len(number) < 10:
            q |= Q(pk=int(number))
        return self.scope_queryset(request, queryset.filter(q)), False

    def get_list_display(self, request: HttpRequest):
        columns = list(super().get_list_display(request))
        ids = user_workshop_ids(request)
        if ids is None or len(ids) > 1:
            columns.insert(1, "workshop")
        return columns

    # -- columns ---------------------------------------------------------------------------
    @display(description="время (местное)", ordering="starts_at")
    def local_time(self, obj: Booking) -> str:
        starts, ends = obj.starts_at.astimezone(obj.workshop.tz), obj.ends_at.astimezone(obj.workshop.tz)
        return f"{starts:%d.%m.%Y %H:%M}–{ends:%H:%M}"

    @display(description="оценка поставлена (местное время)")
    def rated_local(self, obj: Booking) -> str:
        return f"{obj.rated_at.astimezone(obj.workshop.tz):%d.%m.%Y %H:%M}" if obj.rated_at else "—"

    @display(description="клиент")
    def client_name(self, obj: Booking) -> str:
        phones = list(obj.client.phones.all())
        phone = display_phone(phones[0].number) if phones else ""
        return format_html('{}<br><span class="text-base-500">{}</span>', obj.client.name, phone)

    @display(description="телефон")
    def client_phone(self, obj: Booking) -> str:
        phones = list(obj.client.phones.all())
        return ", ".join(display_phone(phone.number) for phone in phones) or "—"

    @display(description="автомобиль")
    def vehicle_display(self, obj: Booking) -> str:
        return str(obj.vehicle) if obj.vehicle else "—"

    @display(description="пост")
    def bay_display(self, obj: Booking) -> str:
        return obj.bay.name

    @display(description="статус")
    def status_badge(self, obj: Booking) -> str:
        # Unfold's ``label=`` renders a template per row; the same badge as one string.
        return format_html('<span class="{}">{}</span>', BADGE_CLASSES[obj.status], obj.get_status_display())

    @display(description="канал")
    def channel_display(self, obj: Booking) -> str:
        return obj.get_channel_display()

    # -- the booking page ------------------------------------------------------------------
    def get_form(self, request: HttpRequest, obj: Booking | None = None, change: bool = False, **kwargs):
        kwargs["form"] = BookingCreateForm if obj is None else BookingRescheduleForm
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"request": request})

    def get_fieldsets(self, request: HttpRequest, obj: Booking | None = None):
        if obj is None:
            return (
                ("Клиент", {"fields": ("client", "phone", "name", "vehicle", "plate")}),
                ("Запись", {"fields": ("workshop", "service", "day", "start_time", "bay", "comment")}),
            )
        fieldsets = [
            ("Запись", {"fields": (
                "status_badge", "local_time", "workshop", "bay_display", "service", "channel_display",
                "created_display", "journal_link",
            )}),
            ("Клиент", {"fields": ("client_link", "client_phone", "vehicle_display", "comment")}),
        ]
        if self.has_change_permission(request, obj):
            fieldsets.append(("Перенести", {"fields": ("day", "start_time", "bay", "reason")}))
        fieldsets.append(("Оценка клиента", {"fields": RATING_FIELDS}))
        fieldsets.append(("Уведомления", {"fields": ("notifications_display",)}))
        fieldsets.append(("История", {"fields": ("history_table",)}))
        return fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: Booking | None = None):
        if obj is None:
            return ()
        return (
            "status_badge", "local_time", "workshop", "bay_display", "service", "channel_display",
            "created_display", "journal_link", "client_link", "client_phone", "vehicle_display", "comment",
            "history_table", *RATING_FIELDS, "notifications_display",
        )

    def save_model(self, request: HttpRequest, obj: Booking, form, change: bool) -> None:
        """Nothing to save: the form's ``clean()`` had the engine write the booking."""

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        """Nothing to save: bookings have no inlines."""

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        # A finished or cancelled booking has nothing left to change: its page is read-only.
        if isinstance(obj, Booking) and not obj.is_active:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # a booking is cancelled, never deleted

    @display(description="создана")
    def created_display(self, obj: Booking) -> str:
        created = obj.created_at.astimezone(obj.workshop.tz)
        by = f", {obj.created_by}" if obj.created_by_id else ""
        return f"{created:%d.%m.%Y %H:%M}{by}"

    @display(description="журнал")
    def journal_link(self, obj: Booking) -> str:
        day = obj.starts_at.astimezone(obj.workshop.tz).date()
        url = reverse("admin:bookings_booking_journal") + f"?workshop={obj.workshop_id}&day={day.isoformat()}#booking-{obj.pk}"
        return format_html('<a href="{}" class="text-primary-600">Открыть день {:%d.%m.%Y}</a>', url, day)

    @display(description="клиент")
    def client_link(self, obj: Booking) -> str:
        url = reverse("admin:clients_client_change", args=[obj.client_id])
        return format_html('<a href="{}" class="text-primary-600">{}</a>', url, obj.client.name)

    @display(description="уведомления")
    def notifications_display(self, obj: Booking) -> str:
        return booking_notifications_table(obj)

    @display(description="история изменений")
    def history_table(self, obj: Booking) -> str:
        rows = []
        for entry in obj.history.select_related("by_user").order_by("at", "id"):
            when = entry.at.astimezone(obj.workshop.tz)
            what = entry.get_event_display()
            if entry.event == "status":
                what = f"{entry.get_from_status_display()} → {entry.get_to_status_display()}"
            elif entry.event == "rescheduled" and entry.old_starts_at and entry.new_starts_at:
                old, new = entry.old_starts_at.astimezone(obj.workshop.tz), entry.new_starts_at.astimezone(obj.workshop.tz)
                what = f"перенос {old:%d.%m %H:%M} → {new:%d.%m %H:%M}"
            who = str(entry.by_user) if entry.by_user_id else (entry.actor or "—")
            rows.append((f"{when:%d.%m.%Y %H:%M}", what, who, entry.reason or ""))
        if not rows:
            return "—"
        body = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows)
        return format_html(
            '<table class="booking-history"><thead><tr><th>когда</th><th>что</th><th>кто</th><th>причина</th>'
            "</tr></thead><tbody>{}</tbody></table>",
            body,
        )

    # -- status changes: one booking (buttons on its page) ------------------------------
    def get_actions_detail(self, request: HttpRequest, object_id):
        found = super().get_actions_detail(request, object_id)
        booking = self.get_object(request, unquote(str(object_id)))
        allowed = TRANSITIONS.get(booking.status, frozenset()) if booking else frozenset()
        return [a for a in found if DETAIL_TARGETS[a.action_name.rsplit("_detail_", 1)[-1]] in allowed]

    def _transition_one(self, request: HttpRequest, object_id: str, to_status: str, form) -> HttpResponse:
        booking = self.get_object(request, unquote(object_id))
        if booking is None:
            raise Http404("Запись не найдена.")
        try:
            booking_transition(
                booking=booking, to_status=to_status, by_user=request.user, reason=form.cleaned_data.get("reason", "")
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Запись {booking}: статус «{BookingStatus(to_status).label}».")
        url = reverse("admin:bookings_booking_change", args=[booking.pk])
        if request.headers.get("HX-Request"):
            return HttpResponse(headers={"HX-Redirect": url})
        return HttpResponseRedirect(url)

    @action(
        description="Подтвердить", url_path="confirm", permissions=["change"], icon="check_circle",
        dialog={"title": "Подтвердить запись?", "description": "Клиент получит подтверждение.",
                "form_class": TransitionDialogForm, "form_submit_text": "Подтвердить"},
    )
    def detail_confirm(self, request: HttpRequest, form, object_id: str) -> HttpResponse:
        return self._transition_one(request, object_id, BookingStatus.CONFIRMED, form)

    @action(
        description="Отменить", url_path="cancel", permissions=["change"], icon="cancel",
        dialog={"title": "Отменить запись?", "description": "Место освободится, клиент получит уведомление.",
                "form_class": TransitionDialogForm, "form_submit_text": "Отменить запись"},
    )
    def detail_cancel(self, request: HttpRequest, form, object_id: str) -> HttpResponse:
        return self._transition_one(request, object_id, BookingStatus.CANCELLED, form)

    @action(
        description="Выполнена", url_path="complete", permissions=["change"], icon="task_alt",
        dialog={"title": "Отметить визит выполненным?", "description": "",
                "form_class": TransitionDialogForm, "form_submit_text": "Выполнена"},
    )
    def detail_complete(self, request: HttpRequest, form, object_id: str) -> HttpResponse:
        return self._transition_one(request, object_id, BookingStatus.COMPLETED, form)

    @action(
        description="Не приехал", url_path="no-show", permissions=["change"], icon="person_off",
        dialog={"title": "Клиент не приехал?", "description": "",
                "form_class": TransitionDialogForm, "form_submit_text": "Не приехал"},
    )
    def detail_no_show(self, request: HttpRequest, form, object_id: str) -> HttpResponse:
        return self._transition_one(request, object_id, BookingStatus.NO_SHOW, form)

    # -- status changes: many bookings (changelist actions) -----------------------------
    def _transition_many(self, request: HttpRequest, queryset: QuerySet, to_status: str) -> None:
        """Apply one transition to each selected booking; report what was done and, per booking, what was refused."""
        requested = set(request.POST.getlist(ACTION_CHECKBOX_NAME))
        done, refused, found = 0, [], set()
        for booking in queryset.order_by("starts_at", "pk"):
            found.add(str(booking.pk))
            try:
                booking_transition(booking=booking, to_status=to_status, by_user=request.user)
            except DomainError as exc:
                refused.append(f"№{booking.pk} ({booking}): {exc.message}")
            else:
                done += 1
        label = BookingStatus(to_status).label
        if done:
            messages.success(request, f"Статус «{label}»: {done} из {len(found)}.")
        for line in refused:
            messages.warning(request, f"Не изменена запись {line}")
        if missing := len(requested - found):
            messages.warning(request, f"Не найдено или недоступно записей: {missing}.")

    @admin.action(description="Подтвердить выбранные", permissions=["change"])
    def confirm_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._transition_many(request, queryset, BookingStatus.CONFIRMED)

    @admin.action(description="Отменить выбранные", permissions=["change"])
    def cancel_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._transition_many(request, queryset, BookingStatus.CANCELLED)

    @admin.action(description="Отметить выполненными", permissions=["change"])
    def complete_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._transition_many(request, queryset, BookingStatus.COMPLETED)

    @admin.action(description="Отметить «не приехал»", permissions=["change"])
    def no_show_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._transition_many(request, queryset, BookingStatus.NO_SHOW)

    # -- the day journal -------------------------------------------------------------------
    def get_urls(self):
        view = self.admin_site.admin_view(self.journal_view)
        return [path("journal/", view, name="bookings_booking_journal")] + super().get_urls()

    def journal_view(self, request: HttpRequest) -> HttpResponse:
        return journal.journal_view(self, request)


DETAIL_TARGETS = {
    "confirm": BookingStatus.CONFIRMED,
    "cancel": BookingStatus.CANCELLED,
    "complete": BookingStatus.COMPLETED,
    "no_show": BookingStatus.NO_SHOW,
}


@admin.register(BookingHistory)
class BookingHistoryAdmin(FastActionCheckboxMixin, BranchScopedAdminMixin, ModelAdmin):
    """Who did what to bookings: read-only, newest first."""

    branch_path = "booking__workshop"
    list_display = ("at_local", "booking", "event", "from_status", "to_status", "by_user", "actor", "reason")
    list_select_related = ("booking__workshop", "booking__service", "booking__client", "by_user")
    list_filter = ("event", "to_status")
    list_per_page = 50
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    paginator = CappedPaginator
    list_disable_select_all = True
    ordering = ("-id",)
    sortable_by = ()

    def get_paginator(self, request: HttpRequest, queryset: QuerySet, per_page: int, *args, **kwargs):
        if queryset.model is not BookingHistory:
            return Paginator(queryset, per_page, *args, **kwargs)
        return super().get_paginator(request, queryset, per_page, *args, **kwargs)

    @display(description="когда (местное)")
    def at_local(self, obj: BookingHistory) -> str:
        return f"{obj.at.astimezone(obj.booking.workshop.tz):%d.%m.%Y %H:%M}"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

