"""Settings for sto-booking, driven by the environment (django-environ).

Nothing outside ``config/`` reads the environment. A bad or missing value fails at
start-up with a message naming the variable. ``make demo`` runs with ``DEBUG=1`` and
no other variable: SQLite in the project folder, Celery tasks in-process, e-mail to
the console.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.templatetags.static import static
from django.urls import reverse_lazy

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)


# The installer types these into .env: a mistake is named in Russian, not a traceback.
def _names(name: str, default: list[str]) -> list[str]:
    """A comma-separated list; spaces after the commas («a.ru, b.ru») are not part of the names."""
    return [item.strip() for item in env.list(name, default=default) if item.strip()]


def _number(name: str, default: float, kind: type = int):
    raw = env.str(name, default="").strip()
    if not raw:
        return default
    try:
        return kind(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw}: нужно число, например {default}.") from None


# Production secrets have no default; the demo and tests get a throwaway key.
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("Укажите SECRET_KEY в .env (или DEBUG=1 для локального демо).")
    SECRET_KEY = "insecure-demo-key-do-not-use-in-production"

ALLOWED_HOSTS = _names("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("Укажите ALLOWED_HOSTS в .env: домен сайта (несколько — через запятую).")

LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "[::1]", "::1", "testserver"}


def public_hosts(hosts: list[str]) -> list[str]:
    """The entries of ``hosts`` that reach beyond this machine (``*`` and any real name or address)."""
    return [host for host in hosts if host not in LOOPBACK_HOSTS and not host.endswith(".localhost")]


# DEBUG pages show settings, SQL and stack frames: never to the internet.
if DEBUG and public_hosts(ALLOWED_HOSTS):
    raise ImproperlyConfigured(
        f"DEBUG=1, а в ALLOWED_HOSTS публичный адрес ({', '.join(public_hosts(ALLOWED_HOSTS))}): в рабочей "
        "установке поставьте DEBUG=0, для локального демо оставьте в ALLOWED_HOSTS только localhost."
    )
CSRF_TRUSTED_ORIGINS = _names("CSRF_TRUSTED_ORIGINS", default=[])


def _public_url(hosts: list[str]) -> str:
    """Where clients open links from e-mails: https on the first domain in ``hosts`` (``web`` or
    ``*`` are not one), the demo's address for a site that is not public."""
    domains = [host.lstrip(".") for host in public_hosts(hosts) if "." in host.lstrip(".")]
    if domains:
        return f"https://{domains[0]}"
    if public_hosts(hosts):
        raise ImproperlyConfigured("Укажите PUBLIC_URL (например https://sto.example.ru): в ALLOWED_HOSTS нет домена сайта.")
    return "http://localhost:8000"


PUBLIC_URL = (env.str("PUBLIC_URL", default="").strip() or _public_url(ALLOWED_HOSTS)).rstrip("/")
if not PUBLIC_URL.startswith(("https://", "http://")):
    raise ImproperlyConfigured(f"PUBLIC_URL={PUBLIC_URL}: нужен адрес со схемой, например https://sto.example.ru.")

DJANGO_APPS = [
    "unfold",
    "unfold.contrib.filters",
    "unfold.contrib.forms",
    "unfold.contrib.import_export",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
]
THIRD_PARTY_APPS = [
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "import_export",
    "django_celery_beat",
]
LOCAL_APPS = [
    "workshops",
    "clients",
    "bookings",
    "botapp",
    "reports",
    "imports",
]
INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Serves STATIC_ROOT from gunicorn, so the image needs no separate static server.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite has one writer; IMMEDIATE takes the write lock at BEGIN, so the engine's
    # availability check and its insert cannot interleave with another booking.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20}
    )
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "ru"
LANGUAGES = [("ru", "Русский")]
# Russian for django-unfold's own interface strings, which it ships in English only.
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Europe/Moscow")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Production: hashed, compressed names (collectstatic runs in the Docker image build), so
    # browsers cache them forever. The demo serves plain names straight from the apps.
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
MEDIA_URL = "/media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")

LOGIN_URL = "admin:login"

# --- Redis and Celery -----------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = None
    CELERY_TASK_ALWAYS_EAGER = False
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    # The demo has no Redis: tasks run in-process, the cache is per process.
    CELERY_BROKER_URL = "memory://localhost/"
    CELERY_TASK_ALWAYS_EAGER = True
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TIMEZONE = "UTC"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Periodic jobs, synced into django-celery-beat's tables when beat starts. Each task decides
# for itself what is due, so a missed run only delays.
CELERY_BEAT_SCHEDULE = {
    "notifications-sweep": {"task": "bookings.tasks.sweep_outbox", "schedule": 60.0},
    "notifications-reminders": {"task": "bookings.tasks.scan_reminders", "schedule": 60.0},
    "notifications-return-nudges": {"task": "bookings.tasks.scan_return_nudges", "schedule": 3600.0},
    "reports-weekly-owner-report": {"task": "reports.send_weekly_reports", "schedule": 3600.0},
    "bot-forget-idle-sessions": {"task": "botapp.tasks.forget_idle_sessions", "schedule": 3600.0},
}

# --- Notifications (outbox) -----------------------------------------------------
# A claim older than this is taken to belong to a dead worker and may be taken over.
NOTIFY_CLAIM_TIMEOUT_SECONDS = _number("NOTIFY_CLAIM_TIMEOUT_SECONDS", 300)
# The sweep re-queues a pending row whose task should have run this long ago.
NOTIFY_SWEEP_GRACE_SECONDS = _number("NOTIFY_SWEEP_GRACE_SECONDS", 120)
# Messages per second for the whole bot, across all workers; Telegram allows about 30.
TELEGRAM_RATE_PER_SECOND = _number("TELEGRAM_RATE_PER_SECOND", 28.0, float)
if not 0 < TELEGRAM_RATE_PER_SECOND <= 30:
    raise ImproperlyConfigured("TELEGRAM_RATE_PER_SECOND: больше 0 и не больше 30 (предел Telegram).")

# --- E-mail ---------------------------------------------------------------------
EMAIL_URL = env.str("EMAIL_URL", default="consolemail://")
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="sto-booking <noreply@localhost>")

# --- Telegram -------------------------------------------------------------------
TELEGRAM_BOT_TOKEN = env.str("TELEGRAM_BOT_TOKEN", default="")
TELEGRAM_API_URL = env.str("TELEGRAM_API_URL", default="https://api.telegram.org/bot")
TELEGRAM_WEBHOOK_URL = env.str("TELEGRAM_WEBHOOK_URL", default="")
TELEGRAM_WEBHOOK_SECRET = env.str("TELEGRAM_WEBHOOK_SECRET", default="")
# The CPU the bot's threads keep to (botapp/cpu.py): auto (one, chosen by process id), all
# (wherever the kernel puts them) or a CPU number.
TELEGRAM_BOT_CPU = env.str("TELEGRAM_BOT_CPU", default="auto")
if TELEGRAM_BOT_CPU not in ("auto", "all") and not TELEGRAM_BOT_CPU.isdigit():
    raise ImproperlyConfigured("TELEGRAM_BOT_CPU: auto, all или номер процессора (0, 1, …).")

# --- Container healthchecks -----------------------------------------------------
# A file the bot (after each answered getUpdates) and beat (on each tick) touch, for
# deploy/healthcheck.py to judge by its age; docker-compose.yml sets it for those two. Empty: none.
HEARTBEAT_FILE = env.str("HEARTBEAT_FILE", default="")

# --- REST API -------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.TokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {"TITLE": "sto-booking API", "VERSION": "1.0.0"}

# --- Admin theme ----------------------------------------------------------------
def _can(permission: str):
    """Sidebar permission callback: show the item to users holding ``permission``."""
    return lambda request: request.user.has_perm(permission)


def _admin_url(name: str):
    return reverse_lazy(f"admin:{name}")


UNFOLD = {
    "SITE_TITLE": "Запись в СТО",
    "SITE_HEADER": "Запись в СТО",
    "SITE_SYMBOL": "car_repair",
    "SHOW_HISTORY": True,
    "STYLES": [lambda request: static("bookings/admin.css")],
    "SIDEBAR": {
        "show_search": True,
        "show_all_applications": True,
        "navigation": [
            {
                "title": "Работа",
                "items": [
                    {"title": "Журнал записи", "icon": "calendar_view_week",
                     "link": _admin_url("bookings_booking_journal"), "permission": _can("bookings.view_booking")},
                    {"title": "Записи", "icon": "event_note", "link": _admin_url("bookings_booking_changelist"),
                     "permission": _can("bookings.view_booking"),
                     "active": lambda request: request.path.startswith("/admin/bookings/booking/")
                     and "/journal/" not in request.path},
                    {"title": "Клиенты", "icon": "group", "link": _admin_url("clients_client_changelist"),
                     "permission": _can("clients.view_client")},
                    {"title": "Автомобили", "icon": "directions_car", "link": _admin_url("clients_vehicle_changelist"),
                     "permission": _can("clients.view_vehicle")},
                ],
            },
            {
                "title": "Филиалы",
                "separator": True,
                "items": [
                    {"title": "Филиалы", "icon": "store", "link": _admin_url("workshops_workshop_changelist"),
                     "permission": _can("workshops.view_workshop")},
                    {"title": "Посты", "icon": "garage", "link": _admin_url("workshops_bay_changelist"),
                     "permission": _can("workshops.view_bay")},
                    {"title": "Услуги", "icon": "build", "link": _admin_url("workshops_service_changelist"),
                     "permission": _can("workshops.view_service")},
                    {"title": "Сотрудники филиалов", "icon": "badge",
                     "link": _admin_url("workshops_staffmembership_changelist"),
                     "permission": _can("workshops.view_staffmembership")},
                    {"title": "Компания", "icon": "domain", "link": _admin_url("workshops_company_changelist"),
                     "permission": _can("workshops.view_company")},
                ],
            },
            {
                "title": "Отчёты и импорт",
                "separator": True,
                "items": [
                    {"title": "Панель владельца", "icon": "monitoring", "link": _admin_url("reports_dashboard_changelist"),
                     "permission": "reports.selectors.request_sees_reports"},
                    {"title": "Импорт клиентов", "icon": "upload_file", "link": _admin_url("imports_importjob_changelist"),
                     "permission": _can("imports.import_clients")},
                    {"title": "Уведомления", "icon": "notifications",
                     "link": _admin_url("bookings_notification_changelist"),
                     "permission": _can("bookings.view_notification")},
                    {"title": "Мой Telegram", "icon": "send", "link": _admin_url("workshops_stafftelegramlink_changelist"),
                     "permission": lambda request: request.user.is_staff},
                    {"title": "Еженедельный отчёт", "icon": "mail",
                     "link": _admin_url("reports_reportsubscription_changelist"),
                     "permission": "workshops.admin_scope.owner_only"},
                ],
            },
            {
                "title": "Журналы и доступ",
                "separator": True,
                "collapsible": True,
                "items": [
                    {"title": "История записей", "icon": "history",
                     "link": _admin_url("bookings_bookinghistory_changelist"),
                     "permission": _can("bookings.view_bookinghistory")},
                    {"title": "Пользователи", "icon": "person", "link": _admin_url("auth_user_changelist"),
                     "permission": "workshops.admin_scope.owner_only"},
                    {"title": "Группы прав", "icon": "groups", "link": _admin_url("auth_group_changelist"),
                     "permission": "workshops.admin_scope.owner_only"},
                ],
            },
        ],
    },
}

# --- Security (behind a TLS-terminating reverse proxy in production) -------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if not DEBUG:
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # Start short (a misconfigured TLS proxy then locks browsers out for a minute, not a year);
    # raise to 31536000 once https works. Zero switches HSTS off.
    SECURE_HSTS_SECONDS = _number("SECURE_HSTS_SECONDS", 60)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    # Container healthchecks call plain http on the container's port, without the proxy.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# --- Logging --------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").strip().upper()
if LOG_LEVEL not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
    raise ImproperlyConfigured(f"LOG_LEVEL={LOG_LEVEL}: одно из DEBUG, INFO, WARNING, ERROR, CRITICAL.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # httpx logs every request URL at INFO, and a Bot API URL contains the token.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}

# --- Client import (imports/) ------------------------------------------------------
# Every django-import-export export in admin neutralises formula cells; E.164 phones stay readable.
from imports.formats import SAFE_EXPORT_FORMATS as EXPORT_FORMATS  # noqa: E402,F401
