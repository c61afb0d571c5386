"""``manage.py runbot`` (long polling) and ``manage.py runbot --webhook`` (PTB's own web server)."""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from telegram import Update
from telegram.error import InvalidToken, NetworkError

from botapp.application import build_application
from botapp.cpu import keep_on_one_cpu
from botapp.redact import install_redaction
from botapp.webhook import run_webhook, webhook_options


class Command(BaseCommand):
    help = "Run the Telegram bot: long polling, or --webhook (TELEGRAM_WEBHOOK_URL, TELEGRAM_WEBHOOK_SECRET)."

    def add_arguments(self, parser) -> None:  # noqa: ANN001
        parser.add_argument("--webhook", action="store_true", help="Serve Telegram's webhook instead of polling.")
        parser.add_argument("--listen", default="0.0.0.0", help="Webhook: address to listen on (default 0.0.0.0).")
        parser.add_argument(
            "--port", type=int, default=8081, help="Webhook: port to listen on (default 8081, as in docker-compose.yml)."
        )

    def handle(self, *args, webhook: bool, listen: str, port: int, **options) -> None:  # noqa: ANN002, ANN003
        install_redaction(settings.TELEGRAM_BOT_TOKEN, settings.TELEGRAM_WEBHOOK_SECRET)
        try:
            application = build_application()
            if webhook:
                webhook_options(listen=listen, port=port)  # fail before starting on a bad setting
            cpu = keep_on_one_cpu()  # before the bot starts any thread
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        # The first call to the Bot API (getMe) is where a wrong token or an unreachable
        # server shows: the installer gets one line in Russian, not a traceback.
        try:
            if webhook:
                self.stdout.write(f"Bot: webhook on {listen}:{port}{on_cpu(cpu)}", ending="\n")
                self.stdout.flush()
                run_webhook(application, listen=listen, port=port)
            else:
                self.stdout.write(f"Bot: polling{on_cpu(cpu)}")
                self.stdout.flush()
                application.run_polling(allowed_updates=Update.ALL_TYPES)
        except InvalidToken as exc:
            raise CommandError("Telegram не принял токен бота: проверьте TELEGRAM_BOT_TOKEN.") from exc
        except NetworkError as exc:
            raise CommandError(
                f"Нет связи с Bot API ({settings.TELEGRAM_API_URL or 'api.telegram.org'}): {exc}. "
                "Проверьте сеть и TELEGRAM_API_URL."
            ) from exc


def on_cpu(cpu: int | None) -> str:
    return f", threads on CPU {cpu}" if cpu is not None else ""
