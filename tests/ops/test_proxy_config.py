"""The proxy sites shipped in deploy/proxy (nginx, Caddy): what they log and how big an upload they let through.

Checked here as text; both were run once (nginx 1.22: the 413 page and log lines; Caddy 2.6: the 413 page).
"""

import re

from imports import limits
from tests.ops.conftest import ROOT

CONF = (ROOT / "deploy/proxy/nginx.conf").read_text()


def test_the_nginx_site_logs_without_query_strings_or_referrers():
    log_format = re.search(r"log_format sto_private (.*?);", CONF, re.DOTALL).group(1)
    servers = CONF.count("server {")

    assert "$uri" in log_format
    assert not re.search(r"\$(request\b|request_uri|args|query_string|http_referer|arg_)", log_format)
    assert CONF.count("access_log /var/log/nginx/sto-booking.access.log sto_private;") == servers


def test_an_upload_the_importer_would_take_gets_through_and_a_bigger_one_a_russian_page():
    size = re.search(r"client_max_body_size (\d+)m;", CONF).group(1)
    page = re.search(r"location @too_large \{(.*?)\}", CONF, re.DOTALL).group(1)

    assert int(size) * 1024 * 1024 >= limits.MAX_FILE_BYTES
    assert "error_page 413 @too_large;" in CONF
    assert "charset=utf-8" in page and "Файл больше 60 МБ" in page
    assert limits.MAX_FILE_BYTES == 60 * 1024 * 1024, "the page names the limit"


def test_the_caddy_site_takes_the_same_uploads_and_answers_a_bigger_one_in_russian():
    caddy = (ROOT / "deploy/proxy/Caddyfile").read_text()
    size = re.search(r"max_size (\d+)MB", caddy).group(1)

    assert int(size) * 1024 * 1024 >= limits.MAX_FILE_BYTES
    assert "@too_large expression" in caddy and "Файл больше 60 МБ" in caddy
    assert 'Content-Type "text/html; charset=utf-8"' in caddy
