"""Clients (company-wide), their phones and cars."""

from django.db import models
from django.db.models import Q

from workshops.models import Workshop


class ClientKind(models.TextChoices):
    PERSON = "person", "частное лицо"
    COMPANY = "company", "организация / ИП"


class Client(models.Model):
    """One person or company, whatever branch they visit; identified by phone (or INN)."""

    name = models.CharField("имя / название", max_length=300)
    kind = models.CharField("тип", max_length=10, choices=ClientKind.choices, default=ClientKind.PERSON)
    inn = models.CharField("ИНН", max_length=12, blank=True)
    email = models.EmailField("e-mail", blank=True)
    comment = models.TextField("комментарий", blank=True)
    workshops = models.ManyToManyField(Workshop, related_name="clients", verbose_name="филиалы", blank=True)
    telegram_user_id = models.BigIntegerField("Telegram ID", null=True, blank=True, unique=True)
    telegram_username = models.CharField("Telegram username", max_length=64, blank=True)
    telegram_blocked_at = models.DateTimeField(
        "заблокировал бота", null=True, blank=True, help_text="Сообщения в Telegram не доставляются."
    )
    # The start of the client's earliest completed visit (imported ones too): kept by the
    # booking services (``bookings.services``), read by the owner reports («returning client»).
    first_visit_at = models.DateTimeField("первый визит", null=True, blank=True, editable=False)
    created_at = models.DateTimeField("создан", auto_now_add=True)
    updated_at = models.DateTimeField("изменён", auto_now=True)

    class Meta:
        verbose_name = "клиент"
        verbose_name_plural = "клиенты"
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["inn"], condition=~Q(inn=""), name="client_inn_unique"),
        ]
        indexes = [models.Index(fields=["name"], name="client_name_idx")]

    def __str__(self) -> str:
        return self.name


class ClientPhone(models.Model):
    """A phone in E.164; a number belongs to at most one client."""

    client = models.ForeignKey(Client, models.CASCADE, related_name="phones", verbose_name="клиент")
    number = models.CharField("телефон (E.164)", max_length=20)
    extension = models.CharField("добавочный", max_length=10, blank=True)
    position = models.PositiveSmallIntegerField("порядок", default=0)

    class Meta:
        verbose_name = "телефон"
        verbose_name_plural = "телефоны"
        ordering = ["client", "position", "id"]
        # A constraint rather than ``unique=True``: the field would also get a ``LIKE``-prefix index
        # that no search uses (phones are matched exactly or by a tail), paid for by every import.
        constraints = [models.UniqueConstraint(fields=["number"], name="clientphone_number_unique")]

    def __str__(self) -> str:
        from clients.normalize import format_phone

        return format_phone(self.number) + (f" доб. {self.extension}" if self.extension else "")


class Vehicle(models.Model):
    """A client's car, identified by VIN or plate."""

    client = models.ForeignKey(Client, models.CASCADE, related_name="vehicles", verbose_name="клиент")
    make = models.CharField("марка", max_length=100, blank=True)
    model = models.CharField("модель", max_length=100, blank=True)
    plate = models.CharField("госномер", max_length=12, blank=True)
    vin = models.CharField("VIN", max_length=17, blank=True)
    year = models.PositiveSmallIntegerField("год выпуска", null=True, blank=True)
    mileage_km = models.PositiveIntegerField("пробег, км", null=True, blank=True)
    created_at = models.DateTimeField("добавлен", auto_now_add=True)

    class Meta:
        verbose_name = "автомобиль"
        verbose_name_plural = "автомобили"
        ordering = ["client", "id"]
        constraints = [
            models.UniqueConstraint(fields=["vin"], condition=~Q(vin=""), name="vehicle_vin_unique"),
            models.CheckConstraint(condition=~Q(plate="", vin=""), name="vehicle_has_plate_or_vin"),
        ]
        # Plates are matched exactly (search, import): one plain index, not ``db_index``'s pair
        # with a ``LIKE``-prefix index nothing uses.
        indexes = [models.Index(fields=["plate"], name="vehicle_plate_idx")]

    def __str__(self) -> str:
        title = " ".join(part for part in (self.make, self.model) if part) or "Автомобиль"
        return f"{title} {self.plate or self.vin}".strip()


class ConsentPurpose(models.TextChoices):
    PERSONAL_DATA = "personal_data", "обработка персональных данных"
    MARKETING = "marketing", "рекламные и сервисные рассылки"


class Consent(models.Model):
    """Evidence of one consent (152-FZ): what text, which version, when, through which channel.

    Recorded before anything personal is asked, so ``client`` may be empty until the
    person shares a contact. A withdrawal sets ``withdrawn_at``; a new text version
    makes a new row and leaves the old one as it was.
    """

    client = models.ForeignKey(
        Client, models.SET_NULL, null=True, blank=True, related_name="consents", verbose_name="клиент"
    )
    telegram_user_id = models.BigIntegerField("Telegram ID", null=True, blank=True, db_index=True)
    purpose = models.CharField("цель", max_length=20, choices=ConsentPurpose.choices)
    text_version = models.CharField("версия текста", max_length=32)
    text_hash = models.CharField("SHA-256 текста", max_length=64)
    text = models.TextField("текст согласия")
    channel = models.CharField("канал", max_length=20)
    message_id = models.BigIntegerField("ID сообщения", null=True, blank=True)
    given_at = models.DateTimeField("дано", auto_now_add=True)
    withdrawn_at = models.DateTimeField("отозвано", null=True, blank=True)

    class Meta:
        verbose_name = "согласие"
        verbose_name_plural = "согласия"
        ordering = ["-given_at"]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} v{self.text_version}"
