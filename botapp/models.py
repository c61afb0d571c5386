"""Conversation state of the bot, kept in the database so any bot process can serve any update."""

from django.db import models


class BotSession(models.Model):
    """Where one Telegram user is in the conversation with the bot.

    The bot keeps nothing in memory between updates: every update reads this row and
    writes it back, so a restart mid-flow continues where the user was and several
    processes can serve one bot behind a webhook. ``step`` grows whenever the bot shows
    a new keyboard; buttons carry the step they were drawn for, so a stale button (an
    old calendar) is recognised and answered politely. ``data`` holds the choices made
    so far (ids, labels, the phone until the client is created) and is emptied when the
    flow ends.
    """

    telegram_user_id = models.BigIntegerField("Telegram ID", primary_key=True)
    state = models.CharField("шаг", max_length=32, blank=True)
    step = models.PositiveIntegerField("номер экрана", default=0)
    data = models.JSONField("данные шага", default=dict, blank=True)
    updated_at = models.DateTimeField("изменено", auto_now=True)

    class Meta:
        verbose_name = "диалог с ботом"
        verbose_name_plural = "диалоги с ботом"

    def __str__(self) -> str:
        return f"{self.telegram_user_id}: {self.state or 'нет шага'}"
