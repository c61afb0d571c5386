"""Production settings: what refuses to start, what `check --deploy` says, and the https redirect.

Start-up refusals need a fresh process (settings are read once), so those tests run one.
"""

import sys

import pytest

from config.settings import BASE_DIR, public_hosts
from tests.ops.conftest import manage, production_env, run

LOAD_SETTINGS = [sys.executable, "-c", "from django.conf import settings; settings.INSTALLED_APPS"]

needs_no_env_file = pytest.mark.skipif(
    (BASE_DIR / ".env").exists(), reason="a local .env would supply the variable this test leaves out"
)


@needs_no_env_file
def test_production_refuses_to_start_without_a_secret_key():
    env = production_env()
    del env["SECRET_KEY"]

    result = run(LOAD_SETTINGS, env=env, check=False)

    assert result.returncode != 0
    assert "Укажите SECRET_KEY в .env" in result.stderr


def test_production_refuses_to_start_with_debug_on_and_a_public_host():
    result = run(LOAD_SETTINGS, env=production_env(DEBUG="1", ALLOWED_HOSTS="localhost,sto.example.ru"), check=False)

    assert result.returncode != 0
    assert "DEBUG=1, а в ALLOWED_HOSTS публичный адрес (sto.example.ru)" in result.stderr


def test_debug_on_localhost_still_starts_for_the_demo():
    assert run(LOAD_SETTINGS, env=production_env(DEBUG="1", ALLOWED_HOSTS="localhost,127.0.0.1")).returncode == 0


@pytest.mark.parametrize("hosts", [["localhost", "127.0.0.1", "[::1]", "testserver", "app.localhost"], []])
def test_loopback_names_are_not_public(hosts):
    assert public_hosts(hosts) == []


@pytest.mark.parametrize("host", ["*", "sto.example.ru", ".example.ru", "192.168.1.10", "0.0.0.0"])
def test_anything_else_is_public(host):
    assert public_hosts(["localhost", host]) == [host]


def test_check_deploy_passes_with_the_production_settings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env())

    assert "System check identified no issues" in result.stdout


def test_check_deploy_warns_when_hsts_is_switched_off():
    """The configurable HSTS really is configurable, and check --deploy notices."""
    result = manage(
        "check", "--deploy", "--fail-level", "WARNING", env=production_env(SECURE_HSTS_SECONDS="0"), check=False
    )

    assert result.returncode != 0
    assert "security.W004" in result.stderr


@pytest.fixture
def https_redirect(settings):
    settings.SECURE_SSL_REDIRECT = True


def test_healthz_answers_plain_http_for_the_container_healthcheck(https_redirect, client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.content == b"ok"


def test_plain_http_to_the_admin_is_redirected_to_https(https_redirect, client):
    response = client.get("/admin/login/")

    assert response.status_code == 301
    assert response["Location"] == "https://testserver/admin/login/"


def test_the_proxy_header_marks_a_request_as_https(https_redirect, client):
    response = client.get("/admin/login/", headers={"X-Forwarded-Proto": "https"})

    assert response.status_code == 200
    assert response.wsgi_request.is_secure()
    assert "max-age=" in response["Strict-Transport-Security"]


@pytest.mark.parametrize(("overrides", "expected"), [
    ({"ALLOWED_HOSTS": "localhost,sto.example.ru"}, "https://sto.example.ru"),
    ({"ALLOWED_HOSTS": ".example.ru"}, "https://example.ru"),
    ({"ALLOWED_HOSTS": "sto.example.ru", "PUBLIC_URL": "https://zapis.example.ru/"}, "https://zapis.example.ru"),
    ({"ALLOWED_HOSTS": "web,sto.example.ru"}, "https://sto.example.ru"),
    ({"ALLOWED_HOSTS": "localhost"}, "http://localhost:8000"),
])
def test_links_in_e_mails_use_the_sites_public_address(overrides, expected):
    show = [sys.executable, "-c", "from django.conf import settings; print(settings.PUBLIC_URL)"]

    result = run(show, env=production_env(**overrides))

    assert result.stdout.strip() == expected


def test_names_after_commas_may_have_spaces():
    show = [sys.executable, "-c", "from django.conf import settings; print(settings.ALLOWED_HOSTS, settings.CSRF_TRUSTED_ORIGINS)"]

    result = run(show, env=production_env(ALLOWED_HOSTS="sto.example.ru, www.sto.example.ru",
                                           CSRF_TRUSTED_ORIGINS="https://a.example.ru, https://b.example.ru"))

    assert result.stdout.strip() == ("['sto.example.ru', 'www.sto.example.ru'] "
                                     "['https://a.example.ru', 'https://b.example.ru']")


def test_a_lower_case_log_level_is_understood():
    show = [sys.executable, "-c", "from django.conf import settings; print(settings.LOGGING['root']['level'])"]

    assert run(show, env=production_env(LOG_LEVEL="info")).stdout.strip() == "INFO"


@pytest.mark.parametrize(("name", "value", "message"), [
    ("SECURE_HSTS_SECONDS", "1y", "SECURE_HSTS_SECONDS=1y: нужно число, например 60."),
    ("LOG_LEVEL", "loud", "LOG_LEVEL=LOUD: одно из DEBUG, INFO, WARNING, ERROR, CRITICAL."),
    ("TELEGRAM_RATE_PER_SECOND", "50", "TELEGRAM_RATE_PER_SECOND: больше 0 и не больше 30"),
    ("PUBLIC_URL", "sto.example.ru", "PUBLIC_URL=sto.example.ru: нужен адрес со схемой"),
    ("ALLOWED_HOSTS", "*", "Укажите PUBLIC_URL (например https://sto.example.ru): в ALLOWED_HOSTS нет домена сайта."),
])
def test_a_mistyped_setting_is_named_in_russian(name, value, message):
    result = run(LOAD_SETTINGS, env=production_env(**{name: value}), check=False)

    assert result.returncode != 0
    assert message in result.stderr
