"""``manage.py demo_setup``: load the demo company once; print new accounts' passwords once."""

import logging

from django.core.management.base import BaseCommand

from bookings.models import Booking
from clients.models import Client
from workshops.demo import demo_setup
from workshops.models import Workshop


class Command(BaseCommand):
    help = "Загружает демо-данные в пустую базу и создаёт учётные записи (пароли показываются один раз)."

    def handle(self, *args, **options) -> None:
        # The demo runs Celery tasks in-process; a line per (skipped) fixture notification
        # would bury the passwords printed below.
        logging.getLogger("celery.app.trace").setLevel(logging.WARNING)
        result = demo_setup()
        if result.loaded:
            self.stdout.write(self.style.SUCCESS(
                f"Демо-данные загружены: филиалов {Workshop.objects.count()}, клиентов {Client.objects.count()}, "
                f"записей {Booking.objects.count()}."
            ))
        else:
            self.stdout.write("В базе уже есть филиалы: демо-данные не загружались, всё сохранено.")
        if result.new_accounts:
            self.stdout.write(self.style.WARNING("Созданы учётные записи. Пароли показаны один раз — сохраните их:"))
            for account in result.new_accounts:
                self.stdout.write(f"  {account.username:<14} {account.password}   ({account.role})")
