"""Bookings and their history. Writes go through ``bookings.services`` only."""

from django.conf import settings
from django.contrib.postgres.fields import DateTimeRangeField, RangeOperators
from django.db import models
from django.db.models import F, Func, Q

from bookings.constraints import PostgresExclusionConstraint
from clients.models import Client, Vehicle
from workshops.models import Bay, Service, Workshop


class BookingStatus(models.TextChoices):
    NEW = "new", "новая"
    CONFIRMED = "confirmed", "подтверждена"
    COMPLETED = "completed", "выполнена"
    NO_SHOW = "no_show", "не приехал"
    CANCELLED = "cancelled", "отменена"


ACTIVE_STATUSES = (BookingStatus.NEW, BookingStatus.CONFIRMED)

# The status machine (DESIGN §2): from → allowed targets.
TRANSITIONS: dict[str, frozenset[str]] = {
    BookingStatus.NEW: frozenset({BookingStatus.CONFIRMED, BookingStatus.CANCELLED}),
    BookingStatus.CONFIRMED: frozenset({BookingStatus.COMPLETED, BookingStatus.NO_SHOW, BookingStatus.CANCELLED}),
    BookingStatus.COMPLETED: frozenset(),
    BookingStatus.NO_SHOW: frozenset(),
    BookingStatus.CANCELLED: frozenset(),
}


class BookingChannel(models.TextChoices):
    TELEGRAM = "telegram", "Telegram"
    WEB = "web", "сайт"
    PHONE = "phone", "телефон (администратор)"
    API = "api", "API"
    IMPORT = "import", "импорт истории"


class TsTzRange(Func):
    function = "TSTZRANGE"
    output_field = DateTimeRangeField()


class Booking(models.Model):
    """A client's visit occupying one bay for ``[starts_at, ends_at)`` (stored in UTC)."""

    workshop = models.ForeignKey(Workshop, models.PROTECT, related_name="bookings", verbose_name="филиал")
    bay = models.ForeignKey(Bay, models.PROTECT, related_name="bookings", verbose_name="пост")
    service = models.ForeignKey(Service, models.PROTECT, related_name="bookings", verbose_name="услуга")
    client = models.ForeignKey(Client, models.PROTECT, related_name="bookings", verbose_name="клиент")
    vehicle = models.ForeignKey(
        Vehicle, models.SET_NULL, null=True, blank=True, related_name="bookings", verbose_name="автомобиль"
    )
    starts_at = models.DateTimeField("начало")
    ends_at = models.DateTimeField("окончание")
    status = models.CharField("статус", max_length=20, choices=BookingStatus.choices, default=BookingStatus.NEW)
    channel = models.CharField("канал", max_length=20, choices=BookingChannel.choices)
    comment = models.TextField("комментарий", blank=True)
    created_at = models.DateTimeField("создана", auto_now_add=True, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+", verbose_name="создал"
    )

    class Meta:
        verbose_name = "запись"
        verbose_name_plural = "записи"
        ordering = ["-starts_at"]
        constraints = [
            models.CheckConstraint(condition=Q(starts_at__lt=F("ends_at")), name="booking_starts_before_ends"),
            # No two active bookings overlap on one bay; [) lets one end where the next starts.
            PostgresExclusionConstraint(
                name="booking_no_overlap_on_bay",
                expressions=[
                    (TsTzRange("starts_at", "ends_at"), RangeOperators.OVERLAPS),
                    ("bay", RangeOperators.EQUAL),
                ],
                condition=Q(status__in=ACTIVE_STATUSES),
            ),
        ]
        indexes = [
            models.Index(fields=["workshop", "starts_at"], name="booking_workshop_starts_idx"),
            models.Index(fields=["bay", "starts_at"], name="booking_bay_starts_idx"),
            models.Index(fields=["client", "starts_at"], name="booking_client_starts_idx"),
            models.Index(fields=["status", "starts_at"], name="booking_status_starts_idx"),
            # The admin list across branches (owner, or staff of several) pages in date order.
            models.Index(fields=["starts_at"], name="booking_starts_idx"),
        ]

    def __str__(self) -> str:
        local = self.starts_at.astimezone(self.workshop.tz)
        return f"{local:%d.%m.%Y %H:%M} · {self.service} · {self.client}"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES


class BookingEvent(models.TextChoices):
    CREATED = "created", "создана"
    STATUS = "status", "смена статуса"
    RESCHEDULED = "rescheduled", "перенос"


class BookingHistory(models.Model):
    """Who did what to a booking, when and why: creation, each status change, each reschedule."""

    booking = models.ForeignKey(Booking, models.CASCADE, related_name="history", verbose_name="запись")
    event = models.CharField("событие", max_length=20, choices=BookingEvent.choices)
    from_status = models.CharField("было", max_length=20, choices=BookingStatus.choices, blank=True)
    to_status = models.CharField("стало", max_length=20, choices=BookingStatus.choices)
    old_starts_at = models.DateTimeField("было время", null=True, blank=True)
    new_starts_at = models.DateTimeField("стало время", null=True, blank=True)
    at = models.DateTimeField("когда", auto_now_add=True)
    by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+", verbose_name="сотрудник"
    )
    actor = models.CharField("кто", max_length=100, blank=True, help_text="Клиент (Telegram), система, …")
    reason = models.TextField("причина", blank=True)

    class Meta:
        verbose_name = "история записи"
        verbose_name_plural = "история записей"
        ordering = ["booking", "at", "id"]
        indexes = [models.Index(fields=["to_status", "at"], name="history_status_at_idx")]

    def __str__(self) -> str:
        return f"{self.get_event_display()}: {self.get_to_status_display()}"
