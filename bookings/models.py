"""Bookings and their history. Writes go through ``bookings.services`` only."""

from django.conf import settings
from django.contrib.postgres.fields import DateTimeRangeField, RangeOperators
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Func, Q
from django.utils import timezone

from bookings.constraints import PostgresExclusionConstraint
from clients.models import Client, Vehicle
from workshops.models import Bay, Service, Workshop

# What a booking's comment keeps (the column is a TextField; forms and the engine hold to this).
COMMENT_MAX_LENGTH = 2000

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

    # Branch and client lead composite indexes below, which serve their look-ups; the bay's
    # (active bookings, what availability reads) leaves a bay's deletion check to a scan. A
    # single-column index each would cost every insert (an import writes 100,000).
    workshop = models.ForeignKey(
        Workshop, models.PROTECT, related_name="bookings", verbose_name="филиал", db_index=False
    )
    bay = models.ForeignKey(Bay, models.PROTECT, related_name="bookings", verbose_name="пост", db_index=False)
    service = models.ForeignKey(Service, models.PROTECT, related_name="bookings", verbose_name="услуга")
    client = models.ForeignKey(Client, models.PROTECT, related_name="bookings", verbose_name="клиент", db_index=False)
    vehicle = models.ForeignKey(
        Vehicle, models.SET_NULL, null=True, blank=True, related_name="bookings", verbose_name="автомобиль"
    )
    starts_at = models.DateTimeField("начало")
    ends_at = models.DateTimeField("окончание")
    status = models.CharField("статус", max_length=20, choices=BookingStatus.choices, default=BookingStatus.NEW)
    channel = models.CharField("канал", max_length=20, choices=BookingChannel.choices)
    comment = models.TextField("комментарий", blank=True)
    created_at = models.DateTimeField("создана", auto_now_add=True)  # indexed in Meta, imported visits left out
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+", verbose_name="создал",
        db_index=False,  # indexed where set (Meta): most bookings come from the bot or an import
    )
    rating = models.PositiveSmallIntegerField(
        "оценка клиента", null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)],
        help_text="1–5, клиент ставит в Telegram после визита.",
    )
    rated_at = models.DateTimeField("оценка поставлена", null=True, blank=True)

    class Meta:
        verbose_name = "запись"
        verbose_name_plural = "записи"
        ordering = ["-starts_at"]
        constraints = [
            models.CheckConstraint(condition=Q(starts_at__lt=F("ends_at")), name="booking_starts_before_ends"),
            models.CheckConstraint(
                condition=Q(rating__isnull=True) | Q(rating__gte=1, rating__lte=5), name="booking_rating_1_to_5"
            ),
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
            # Availability reads a bay's active bookings only; past and imported visits stay out.
            models.Index(fields=["bay", "starts_at"], name="booking_bay_active_idx", condition=Q(status__in=ACTIVE_STATUSES)),
            models.Index(fields=["client", "starts_at"], name="booking_client_starts_idx"),
            models.Index(fields=["status", "starts_at"], name="booking_status_starts_idx"),
            # The admin list across branches (owner, or staff of several) pages in date order.
            models.Index(fields=["starts_at"], name="booking_starts_idx"),
            # Reports count bookings made in a period, never imported visits (100,000 per big import).
            models.Index(fields=["created_at"], name="booking_created_at_idx", condition=~Q(channel="import")),
            # For deleting a user (``SET_NULL``): only the bookings staff entered carry one.
            models.Index(fields=["created_by"], name="booking_created_by_idx", condition=Q(created_by__isnull=False)),
        ]

    @property
    def has_started(self) -> bool:
        """Whether the visit's time has come: from then on the client changes it only by phone."""
        return self.starts_at <= timezone.now()

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
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+", verbose_name="сотрудник",
        db_index=False,  # indexed where set (Meta), as on Booking
    )
    actor = models.CharField("кто", max_length=100, blank=True, help_text="Клиент (Telegram), система, …")
    reason = models.TextField("причина", blank=True)

    class Meta:
        verbose_name = "история записи"
        verbose_name_plural = "история записей"
        ordering = ["booking", "at", "id"]
        indexes = [
            # Reports read status changes in a period (``event = status``); «created» rows, one per
            # booking and 100,000 per big import, stay out of this index.
            models.Index(fields=["to_status", "at"], name="history_status_at_idx", condition=Q(event="status")),
            models.Index(fields=["by_user"], name="history_by_user_idx", condition=Q(by_user__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.get_event_display()}: {self.get_to_status_display()}"


class NotificationChannel(models.TextChoices):
    TELEGRAM = "telegram", "Telegram"
    EMAIL = "email", "e-mail"


class NotificationState(models.TextChoices):
    PENDING = "pending", "ожидает отправки"
    SENT = "sent", "отправлено"
    FAILED = "failed", "не доставлено"
    SKIPPED = "skipped", "не потребовалось"


class RecipientKind(models.TextChoices):
    CLIENT = "client", "клиент"
    MANAGERS = "managers", "менеджеры филиала"
    USER = "user", "сотрудник"
    EMAIL = "email", "адрес e-mail"


class Notification(models.Model):
    """One message to send (the outbox), written in the same transaction as the change it reports.

    The row names its recipient by reference (client, branch, user), never by copying a
    name or phone: addresses and text are resolved and rendered when it is sent. A Celery
    task claims the row (``claimed_at``) before sending, so a retried task, a second worker
    or a second beat process sends it once; ``outbox_sweep`` re-queues rows never sent.
    """

    booking = models.ForeignKey(
        Booking, models.CASCADE, null=True, blank=True, related_name="notifications", verbose_name="запись"
    )
    workshop = models.ForeignKey(
        Workshop, models.CASCADE, null=True, blank=True, related_name="notifications", verbose_name="филиал"
    )
    history = models.ForeignKey(
        BookingHistory, models.SET_NULL, null=True, blank=True, related_name="notifications",
        verbose_name="событие", help_text="Изменение записи, о котором сообщение.",
    )
    recipient_kind = models.CharField("кому", max_length=20, choices=RecipientKind.choices)
    client = models.ForeignKey(
        Client, models.CASCADE, null=True, blank=True, related_name="notifications", verbose_name="клиент"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.CASCADE, null=True, blank=True, related_name="notifications",
        verbose_name="сотрудник",
    )
    email = models.EmailField("адрес", blank=True)
    channel = models.CharField("канал", max_length=20, choices=NotificationChannel.choices)
    template_key = models.CharField("шаблон", max_length=50)
    payload = models.JSONField(
        "данные", default=dict, blank=True, help_text="Факты для текста (часы до визита, время визита), без ПДн."
    )
    dedup_key = models.CharField(
        "ключ повтора", max_length=120, null=True, blank=True, unique=True,
        help_text="Одно напоминание / благодарность / приглашение на одно событие, сколько бы раз его ни искали.",
    )
    state = models.CharField(
        "состояние", max_length=20, choices=NotificationState.choices, default=NotificationState.PENDING
    )
    attempts = models.PositiveSmallIntegerField("попыток", default=0)
    next_attempt_at = models.DateTimeField("отправить не раньше", default=timezone.now)
    give_up_at = models.DateTimeField(
        "не отправлять после", null=True, blank=True,
        help_text="Пусто — срок считается от создания; «Отправить ещё раз» начинает его заново.",
    )
    claimed_at = models.DateTimeField("взято в работу", null=True, blank=True)
    queued_at = models.DateTimeField("поставлено в очередь", null=True, blank=True)
    sent_at = models.DateTimeField("отправлено", null=True, blank=True)
    last_error = models.TextField("ошибка", blank=True)
    external_id = models.CharField("ID сообщения", max_length=200, blank=True)
    created_at = models.DateTimeField("создано", auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "уведомление"
        verbose_name_plural = "уведомления"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"], condition=Q(state="pending"), name="notification_pending_due_idx"
            ),
            models.Index(fields=["booking", "template_key"], name="notification_booking_tpl_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.template_key} → {self.get_recipient_kind_display()} ({self.get_channel_display()})"
