"""A dedicated PostgreSQL database per benchmark module, created if missing and migrated.

Usage, first thing in a module's ``run()`` (before importing any model)::

    from benchmarks import _db
    _db.setup_django("engine")          # database sto_bench_engine
    _db.truncate("workshops", "clients", "bookings")

``BENCH_<NAME>_DATABASE_URL`` overrides one module's database URL; ``BENCH_POSTGRES_URL``
the server (default ``postgres://postgres@127.0.0.1:5432``).
"""

import os
from urllib.parse import urlsplit, urlunsplit

DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432"
SETTINGS_MODULE = "config.bench_settings"


def database_url(name: str) -> str:
    """The URL of the benchmark database for module ``name`` (``engine`` → ``…/sto_bench_engine``)."""
    override = os.environ.get(f"BENCH_{name.upper()}_DATABASE_URL")
    if override:
        return override
    server = os.environ.get("BENCH_POSTGRES_URL", DEFAULT_SERVER).rstrip("/")
    return f"{server}/sto_bench_{name}"


def create_database_if_missing(url: str) -> bool:
    """Create the database ``url`` names, connecting to the server's ``postgres`` database. True if created."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return True


def setup_django(name: str) -> str:
    """Point Django at module ``name``'s own database (created if missing), migrate it, return its URL.

    One benchmark module per process: ``python -m benchmarks`` starts a process for each.
    """
    import django
    from django.conf import settings

    url = database_url(name)
    if settings.configured:
        raise RuntimeError("Django is already set up in this process; run each benchmark module in its own process.")
    create_database_if_missing(url)
    # The settings module reads the environment; this process exists only for this benchmark.
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS_MODULE
    django.setup()

    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    return url


def truncate(*app_labels: str) -> None:
    """Empty every table of the given apps (and what references them), restarting their ids."""
    from django.apps import apps
    from django.db import connection

    tables = [
        model._meta.db_table
        for label in app_labels
        for model in apps.get_app_config(label).get_models(include_auto_created=True)
    ]
    if tables:
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {', '.join(connection.ops.quote_name(t) for t in tables)} RESTART IDENTITY CASCADE")


def analyze() -> None:
    """Refresh the planner's statistics after a bulk fill, as autovacuum would soon after."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
