from django.apps import AppConfig


class BookingsConfig(AppConfig):
    name = "bookings"
    verbose_name = "Записи"

    def ready(self) -> None:
        # After admin autodiscovery: the notifications admin, and a stand-in booking page
        # only if no booking admin has been registered.
        from bookings.notifications import admin as notifications_admin

        notifications_admin.register_booking_admin_if_missing()
