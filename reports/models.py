"""Who receives the weekly owner report, and the dashboard's place in the admin menu."""

from django.conf import settings
from django.db import models


class Dashboard(models.Model):
    """No table: gives the owner dashboard its entry in the admin menu (see ``reports.admin``)."""

    class Meta:
        managed = False
        default_permissions = ()
        verbose_name = "панель владельца"
        verbose_name_plural = "панель владельца"


class ReportSubscription(models.Model):
    """One recipient of the weekly report, switchable without losing when it was last sent.

    ``workshop`` empty means all branches (owners only) in the company's time zone;
    set, the report covers that branch and goes out on Monday morning in its time zone.
    ``last_sent_monday`` is the local Monday the last report went out on, claimed with a
    conditional UPDATE so that two overlapping runs send once.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.CASCADE, related_name="report_subscriptions", verbose_name="получатель"
    )
    workshop = models.ForeignKey(
        "workshops.Workshop", models.CASCADE, null=True, blank=True, related_name="report_subscriptions",
        verbose_name="филиал", help_text="Пусто — все филиалы (только для владельца).",
    )
    is_active = models.BooleanField("получает отчёт", default=True)
    last_sent_monday = models.DateField("последняя рассылка (понедельник)", null=True, blank=True, editable=False)
    last_sent_at = models.DateTimeField("отправлен", null=True, blank=True, editable=False)
    created_at = models.DateTimeField("создана", auto_now_add=True)

    class Meta:
        verbose_name = "подписка на еженедельный отчёт"
        verbose_name_plural = "подписки на еженедельный отчёт"
        ordering = ["user_id", "workshop_id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "workshop"], name="report_subscription_unique"),
            models.UniqueConstraint(
                fields=["user"], condition=models.Q(workshop__isnull=True), name="report_subscription_all_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.workshop or 'все филиалы'}"
