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
    assert "Set SECRET_KEY" in result.stderr


def test_production_refuses_to_start_with_debug_on_and_a_public_host():
    result = run(LOAD_SETTINGS, env=production_env(DEBUG="1", ALLOWED_HOSTS="localhost,sto.example.ru"), check=False)

    assert result.returncode != 0
    assert "DEBUG is on while ALLOWED_HOSTS names public host(s) sto.example.ru" in result.stderr


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
])
def test_links_in_e_mails_use_the_sites_public_address(overrides, expected):
    show = [sys.executable, "-c", "from django.conf import settings; print(settings.PUBLIC_URL)"]

    result = run(show, env=production_env(**overrides))

    assert result.stdout.strip() == expected
