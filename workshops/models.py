"""Branches (филиалы), bays (посты), working hours, closed days, services, staff."""

import re
import zoneinfo
from datetime import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, validate_email
from django.db import models
from django.db.models import Q


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"Неизвестный часовой пояс «{value}». Пример: Europe/Moscow.")


RUSSIAN_TIMEZONES = [
    ("Europe/Kaliningrad", "Калининград (UTC+2)"),
    ("Europe/Moscow", "Москва (UTC+3)"),
    ("Europe/Samara", "Самара (UTC+4)"),
    ("Asia/Yekaterinburg", "Екатеринбург (UTC+5)"),
    ("Asia/Omsk", "Омск (UTC+6)"),
    ("Asia/Novosibirsk", "Новосибирск (UTC+7)"),
    ("Asia/Krasnoyarsk", "Красноярск (UTC+7)"),
    ("Asia/Irkutsk", "Иркутск (UTC+8)"),
    ("Asia/Yakutsk", "Якутск (UTC+9)"),
    ("Asia/Vladivostok", "Владивосток (UTC+10)"),
    ("Asia/Magadan", "Магадан (UTC+11)"),
    ("Asia/Kamchatka", "Камчатка (UTC+12)"),
]


def parse_reminder_offsets(value: str) -> list[int]:
    """«24, 2» → [24, 2] (hours before a visit, largest first); empty means no reminders.

    Raises ``ValidationError`` naming the bad part.
    """
    offsets: set[int] = set()
    for part in re.split(r"[,;\s]+", value.strip()):
        if not part:
            continue
        if not part.isdigit() or not 1 <= int(part) <= 168:
            raise ValidationError(f"«{part}»: укажите часы целыми числами от 1 до 168 через запятую, например «24, 2».")
        offsets.add(int(part))
    return sorted(offsets, reverse=True)


def validate_reminder_offsets(value: str) -> None:
    parse_reminder_offsets(value)


def parse_email_list(value: str) -> list[str]:
    """Addresses separated by commas, semicolons or new lines; raises ``ValidationError`` naming a bad one."""
    addresses = [part.strip() for part in re.split(r"[,;\s]+", value or "") if part.strip()]
    for address in addresses:
        try:
            validate_email(address)
        except ValidationError:
            raise ValidationError(f"«{address}» — не адрес e-mail.") from None
    return list(dict.fromkeys(addresses))


def validate_email_list(value: str) -> None:
    parse_email_list(value)


class Company(models.Model):
    """The one personal-data operator this installation serves (named in the bot's consent text)."""

    name = models.CharField("название", max_length=200)
    legal_address = models.CharField("юридический адрес", max_length=300, blank=True)
    inn = models.CharField("ИНН", max_length=12, blank=True)
    phone = models.CharField("телефон", max_length=32, blank=True)
    email = models.EmailField("e-mail", blank=True)

    class Meta:
        verbose_name = "компания"
        verbose_name_plural = "компания"

    def __str__(self) -> str:
        return self.name


class Workshop(models.Model):
    """A branch of the company (филиал СТО) with its own time zone and booking rules."""

    name = models.CharField("название", max_length=200)
    slug = models.SlugField("код", unique=True, help_text="Латиницей, для команд и ссылок: north, center.")
    address = models.CharField("адрес", max_length=300, blank=True)
    phone = models.CharField("телефон", max_length=32, blank=True)
    timezone = models.CharField(
        "часовой пояс", max_length=64, default="Europe/Moscow", validators=[validate_timezone],
        choices=RUSSIAN_TIMEZONES,
    )
    slot_step_minutes = models.PositiveSmallIntegerField(
        "шаг сетки, мин", default=30, validators=[MinValueValidator(5), MaxValueValidator(240)]
    )
    min_lead_minutes = models.PositiveIntegerField(
        "минимум до записи, мин", default=60, help_text="Клиент не может записаться раньше, чем через столько минут."
    )
    horizon_days = models.PositiveSmallIntegerField(
        "горизонт записи, дней", default=14, validators=[MinValueValidator(1), MaxValueValidator(365)]
    )
    telegram_extra_days = models.PositiveSmallIntegerField(
        "доп. дни для Telegram", default=0, help_text="Клиенты из Telegram могут записаться на столько дней дальше."
    )
    telegram_min_lead_minutes = models.PositiveIntegerField(
        "минимум до записи для Telegram, мин", null=True, blank=True,
        help_text="Пусто — как для всех.",
    )
    is_active = models.BooleanField("работает", default=True)
    reminder_offsets_hours = models.CharField(
        "напоминать клиенту за, ч", max_length=50, default="24, 2", blank=True,
        validators=[validate_reminder_offsets],
        help_text="Часы до визита через запятую, например «24, 2». Пусто — не напоминать.",
    )
    manager_telegram_chat_id = models.BigIntegerField(
        "Telegram-чат менеджеров", null=True, blank=True,
        help_text="ID группы (отрицательное число) или личного чата. Узнать ID: добавьте бота и отправьте /chatid.",
    )
    manager_emails = models.TextField(
        "e-mail менеджеров", blank=True, validators=[validate_email_list],
        help_text="Адреса через запятую: сюда приходят новые записи и изменения.",
    )

    class Meta:
        verbose_name = "филиал"
        verbose_name_plural = "филиалы"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    @property
    def reminder_offsets(self) -> list[int]:
        """Hours before a visit to remind the client, largest first."""
        return parse_reminder_offsets(self.reminder_offsets_hours)

    @property
    def manager_email_list(self) -> list[str]:
        return parse_email_list(self.manager_emails)


class BayKind(models.TextChoices):
    GENERAL = "general", "универсальный пост"
    LIFT = "lift", "подъёмник"
    TYRE = "tyre", "шиномонтаж"
    ALIGNMENT = "alignment", "развал-схождение"
    DIAGNOSTICS = "diagnostics", "диагностика"
    WASH = "wash", "мойка"


class Bay(models.Model):
    """A place a car stands during work (пост, подъёмник); one booking at a time."""

    workshop = models.ForeignKey(Workshop, models.CASCADE, related_name="bays", verbose_name="филиал")
    name = models.CharField("название", max_length=100)
    kind = models.CharField("тип", max_length=20, choices=BayKind.choices, default=BayKind.GENERAL)
    is_active = models.BooleanField("используется", default=True)
    position = models.PositiveSmallIntegerField("порядок", default=0)

    class Meta:
        verbose_name = "пост"
        verbose_name_plural = "посты"
        ordering = ["workshop", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["workshop", "name"], name="bay_name_unique_in_workshop")]

    def __str__(self) -> str:
        return f"{self.name} ({self.workshop})"


class Weekday(models.IntegerChoices):
    MON = 0, "понедельник"
    TUE = 1, "вторник"
    WED = 2, "среда"
    THU = 3, "четверг"
    FRI = 4, "пятница"
    SAT = 5, "суббота"
    SUN = 6, "воскресенье"


class WorkingHours(models.Model):
    """Opening hours for one weekday, in the branch's local time. A weekday without a row is a day off."""

    workshop = models.ForeignKey(Workshop, models.CASCADE, related_name="hours", verbose_name="филиал")
    weekday = models.PositiveSmallIntegerField("день недели", choices=Weekday.choices)
    opens_at = models.TimeField("открытие", default=time(9))
    closes_at = models.TimeField("закрытие", default=time(19))
    break_starts = models.TimeField("перерыв с", null=True, blank=True)
    break_ends = models.TimeField("перерыв до", null=True, blank=True)

    class Meta:
        verbose_name = "часы работы"
        verbose_name_plural = "часы работы"
        ordering = ["workshop", "weekday"]
        constraints = [
            models.UniqueConstraint(fields=["workshop", "weekday"], name="hours_one_row_per_weekday"),
            models.CheckConstraint(condition=Q(opens_at__lt=models.F("closes_at")), name="hours_open_before_close"),
            models.CheckConstraint(
                condition=Q(break_starts__isnull=True, break_ends__isnull=True)
                | Q(
                    break_starts__isnull=False,
                    break_ends__isnull=False,
                    break_starts__lt=models.F("break_ends"),
                    break_starts__gte=models.F("opens_at"),
                    break_ends__lte=models.F("closes_at"),
                ),
                name="hours_break_inside_day",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens_at:%H:%M}–{self.closes_at:%H:%M}"

    def clean(self) -> None:
        if self.opens_at and self.closes_at and self.opens_at >= self.closes_at:
            raise ValidationError("Время открытия должно быть раньше закрытия.")
        if (self.break_starts is None) != (self.break_ends is None):
            raise ValidationError("Укажите и начало, и конец перерыва — или ни того, ни другого.")
        if self.break_starts and self.break_ends:
            if not (self.opens_at <= self.break_starts < self.break_ends <= self.closes_at):
                raise ValidationError("Перерыв должен быть внутри рабочего дня.")


class ClosedDay(models.Model):
    """A date the branch does not work (holiday, inventory), whatever its weekly hours say."""

    workshop = models.ForeignKey(Workshop, models.CASCADE, related_name="closed_days", verbose_name="филиал")
    date = models.DateField("дата")
    reason = models.CharField("причина", max_length=200, blank=True)

    class Meta:
        verbose_name = "нерабочий день"
        verbose_name_plural = "нерабочие дни"
        ordering = ["workshop", "date"]
        constraints = [models.UniqueConstraint(fields=["workshop", "date"], name="closed_day_unique")]

    def __str__(self) -> str:
        return f"{self.date:%d.%m.%Y} {self.reason}".strip()


class Service(models.Model):
    """A job a client can book (замена масла, шиномонтаж …), offered at some branches."""

    name = models.CharField("название", max_length=200)
    duration_minutes = models.PositiveSmallIntegerField(
        "длительность, мин", default=60, validators=[MinValueValidator(5), MaxValueValidator(24 * 60)]
    )
    price_from = models.DecimalField("цена от, ₽", max_digits=10, decimal_places=2, null=True, blank=True)
    bay_kind = models.CharField(
        "нужен пост", max_length=20, choices=BayKind.choices, blank=True,
        help_text="Пусто — подойдёт любой пост.",
    )
    workshops = models.ManyToManyField(Workshop, related_name="services", verbose_name="филиалы", blank=True)
    return_interval_months = models.PositiveSmallIntegerField(
        "напомнить о повторном визите через, мес", null=True, blank=True
    )
    is_active = models.BooleanField("доступна для записи", default=True)
    position = models.PositiveSmallIntegerField("порядок", default=0)

    class Meta:
        verbose_name = "услуга"
        verbose_name_plural = "услуги"
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class StaffRole(models.TextChoices):
    MANAGER = "manager", "менеджер"
    STAFF = "staff", "сотрудник"


class StaffMembership(models.Model):
    """Which branches a staff user works at. Owners (superusers or «all branches» permission) see all."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="memberships", verbose_name="пользователь")
    workshop = models.ForeignKey(Workshop, models.CASCADE, related_name="memberships", verbose_name="филиал")
    role = models.CharField("роль", max_length=20, choices=StaffRole.choices, default=StaffRole.MANAGER)

    class Meta:
        verbose_name = "сотрудник филиала"
        verbose_name_plural = "сотрудники филиалов"
        constraints = [models.UniqueConstraint(fields=["user", "workshop"], name="membership_unique")]
        permissions = [("access_all_workshops", "Видит все филиалы (владелец)")]

    def __str__(self) -> str:
        return f"{self.user} — {self.workshop} ({self.get_role_display()})"


class StaffTelegramLink(models.Model):
    """A staff user's Telegram account, linked in the bot with a one-time code shown in admin.

    Only a linked account may press the managers' «Подтвердить» / «Отменить» buttons.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, models.CASCADE, related_name="telegram_link", verbose_name="пользователь"
    )
    telegram_user_id = models.BigIntegerField("Telegram ID", null=True, blank=True, unique=True)
    code = models.CharField("код привязки", max_length=16, null=True, blank=True, unique=True)
    code_expires_at = models.DateTimeField("код действует до", null=True, blank=True)
    linked_at = models.DateTimeField("привязан", null=True, blank=True)

    class Meta:
        verbose_name = "привязка Telegram сотрудника"
        verbose_name_plural = "привязки Telegram сотрудников"

    def __str__(self) -> str:
        return f"{self.user} — {'привязан' if self.telegram_user_id else 'не привязан'}"
