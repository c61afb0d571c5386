# One image for web, bot, Celery worker and Celery beat (see docker-compose.yml).
# Build stage: a virtualenv from pinned wheels only. Final stage: that virtualenv, the code and the
# collected static files, run as an unprivileged user; no compiler, no pip cache, no apt.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python3 -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
# --only-binary: every pin has a wheel (psycopg[binary] brings its own libpq), so nothing compiles.
RUN /opt/venv/bin/pip install --no-cache-dir --only-binary=:all: -r /tmp/requirements.txt

FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=config.settings
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# The code stays owned by root: the app user can read it, not rewrite it.
COPY . /app
# Static files are part of the release: collected once here, served by whitenoise from gunicorn.
# The throwaway key and host exist only for this command; the real ones come from the environment.
# Bytecode is compiled now because the app user cannot write it next to the code later.
RUN SECRET_KEY=collectstatic-only-not-a-secret ALLOWED_HOSTS=localhost \
      python manage.py collectstatic --noinput --verbosity 0 \
 && python -m compileall -q /app \
 && mkdir -p /app/media \
 && chown app:app /app/media
# Numeric, so the runtime can tell it is not root without reading /etc/passwd.
USER 10001:10001
EXPOSE 8000
CMD ["/app/deploy/start-web.sh"]
