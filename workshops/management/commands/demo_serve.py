"""``manage.py demo_serve``: the development server on 127.0.0.1:8000, and the bot if a token is set."""

import signal
import subprocess
import sys
import threading
from pathlib import Path

from django.conf import settings
from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Запускает демо: веб-сервер на 127.0.0.1:8000 и, если задан TELEGRAM_BOT_TOKEN, бота."

    def add_arguments(self, parser) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000", help="адрес:порт сервера")

    def handle(self, *args, addrport: str, **options) -> None:
        # `make demo` may be stopped with SIGTERM (timeout, systemd): turn it into an
        # exit that runs the `finally` below, so the bot does not outlive the server.
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
        bot = self._start_bot()
        self.stdout.write(self.style.SUCCESS(f"Админка: http://{addrport}/admin/  (остановить: Ctrl+C)"))
        try:
            # No autoreloader: it would re-run this command in a child process and start a second bot.
            call_command("runserver", addrport, use_reloader=False)
        finally:
            self._stop_bot(bot)

    def _start_bot(self) -> subprocess.Popen | None:
        if not settings.TELEGRAM_BOT_TOKEN:
            self.stdout.write("Бот не запущен: TELEGRAM_BOT_TOKEN не задан.")
            return None
        if "runbot" not in get_commands():
            self.stdout.write("Бот не запущен: команды runbot в этой версии ещё нет.")
            return None
        self.stdout.write("Запускаю Telegram-бота (manage.py runbot)…")
        bot = subprocess.Popen([sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "runbot"])
        threading.Thread(target=self._report_bot_exit, args=(bot,), daemon=True).start()
        return bot

    def _report_bot_exit(self, bot: subprocess.Popen) -> None:
        # A bot that dies (wrong token, no network) would otherwise go unnoticed behind
        # the web server's log: say so, and keep the admin running.
        code = bot.wait()
        if code not in (0, -signal.SIGTERM):
            self.stderr.write(
                f"Telegram-бот остановился (код {code}), причина — в сообщениях выше. "
                "Админка продолжает работать; проверьте TELEGRAM_BOT_TOKEN и перезапустите make demo."
            )

    def _stop_bot(self, bot: subprocess.Popen | None) -> None:
        if bot is None or bot.poll() is not None:
            return
        bot.terminate()
        try:
            bot.wait(timeout=10)
        except subprocess.TimeoutExpired:
            bot.kill()
            bot.wait()
