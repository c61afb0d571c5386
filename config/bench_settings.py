"""Settings for ``make bench``: the real settings module, with benchmark defaults in the environment.

``benchmarks._db.setup_django`` sets ``DATABASE_URL`` to the benchmark module's own
PostgreSQL database before Django starts; Redis on 127.0.0.1 (db 14) unless
``REDIS_URL`` says otherwise. ``DEBUG`` stays off: with it on, Django keeps every query.
"""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/sto_bench")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")
os.environ.setdefault("SECRET_KEY", "bench-secret-key")
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("EMAIL_URL", "consolemail://")
os.environ.setdefault("LOG_LEVEL", "WARNING")

from config.settings import *  # noqa: E402,F403
