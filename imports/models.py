"""An import job: the uploaded file, the branch, who, the column mapping, progress and the outcome."""

from django.conf import settings
from django.db import models

from workshops.models import Workshop


class ImportStatus(models.TextChoices):
    UPLOADED = "uploaded", "загружен, идёт проверка"
    PREVIEWED = "previewed", "проверен, ждёт подтверждения"
    QUEUED = "queued", "в очереди"
    RUNNING = "running", "загружается"
    DONE = "done", "готово"
    FAILED = "failed", "ошибка"


class ImportJob(models.Model):
    """One upload of a client base into one branch; the summary stays for the record."""

    workshop = models.ForeignKey(Workshop, models.PROTECT, related_name="import_jobs", verbose_name="филиал")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+", verbose_name="загрузил"
    )
    file = models.FileField("файл", upload_to="imports/%Y/%m/")
    original_name = models.CharField("имя файла", max_length=255)
    file_sha256 = models.CharField("SHA-256 файла", max_length=64, blank=True, db_index=True)
    file_format = models.CharField("формат", max_length=20, blank=True)
    mapping = models.JSONField("соответствие колонок", default=dict, blank=True,
                               help_text="Номер колонки → поле; пусто — как распознано.")
    header_row = models.PositiveIntegerField("строка заголовков", null=True, blank=True)
    status = models.CharField("статус", max_length=20, choices=ImportStatus.choices, default=ImportStatus.UPLOADED)
    progress = models.PositiveSmallIntegerField("выполнено, %", default=0)
    data_rows = models.PositiveIntegerField("строк с данными", default=0)
    summary = models.JSONField("итог", default=dict, blank=True)
    rejected_file = models.FileField("отклонённые строки (XLSX)", upload_to="imports/rejected/%Y/%m/", blank=True)
    error = models.TextField("ошибка", blank=True)
    created_at = models.DateTimeField("создан", auto_now_add=True)
    started_at = models.DateTimeField("начат", null=True, blank=True)
    finished_at = models.DateTimeField("закончен", null=True, blank=True)

    class Meta:
        verbose_name = "импорт клиентов"
        verbose_name_plural = "импорт клиентов"
        ordering = ["-created_at"]
        permissions = [("import_clients", "Может загружать клиентов из файлов")]

    def __str__(self) -> str:
        return f"{self.original_name} → {self.workshop} ({self.get_status_display()})"
