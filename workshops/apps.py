from django.apps import AppConfig


class WorkshopsConfig(AppConfig):
    name = "workshops"
    verbose_name = "Филиалы"

    def ready(self) -> None:
        from workshops import admin_telegram  # noqa: F401 (registers the staff Telegram links admin)
