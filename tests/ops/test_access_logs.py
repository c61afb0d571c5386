"""Access logs keep requests, not the personal data in their query strings.

Staff find a client by typing a phone or a name into admin search (``?q=+7912…``); the web
container's log must not write it down (the nginx site: ``test_proxy_config``).
"""

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.ops.conftest import ROOT, database_url, production_env

SEARCH = "/admin/clients/client/?q=%2B79121110001"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> None:
    request = urllib.request.Request(url, headers={"Host": "sto.example.ru", "X-Forwarded-Proto": "https"})
    try:
        urllib.request.urlopen(request, timeout=5)
    except urllib.error.HTTPError:
        pass  # a redirect to the login page is an answer too


def _serve_and_log(tmp_path: Path, paths: list[str]) -> str:
    """Run ``deploy/start-web.sh`` (on a free local port, one worker), request ``paths``, return its output."""
    port = _free_port()
    script = (ROOT / "deploy/start-web.sh").read_text()
    script = script.replace("0.0.0.0:8000", f"127.0.0.1:{port}").replace('"${WEB_CONCURRENCY:-2}"', "1")
    (tmp_path / "web.sh").write_text(script)
    env = production_env(DATABASE_URL=database_url("postgres"))
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"  # the project's gunicorn
    output = tmp_path / "web.log"
    with output.open("w") as log:
        process = subprocess.Popen(["bash", str(tmp_path / "web.sh")], cwd=ROOT, env=env, stdout=log,
                                   stderr=subprocess.STDOUT)
        try:
            for _ in range(150):
                try:
                    _get(f"http://127.0.0.1:{port}/healthz")
                    break
                except OSError:
                    time.sleep(0.2)
            for path in paths:
                _get(f"http://127.0.0.1:{port}{path}")
            time.sleep(0.3)  # the access log is written after the response
        finally:
            process.terminate()
            process.wait(20)
    return output.read_text()


def test_the_web_log_has_the_path_but_not_the_searched_phone(tmp_path):
    log = _serve_and_log(tmp_path, [SEARCH])

    assert '"GET /admin/clients/client/ HTTP/1.1" 302' in log
    assert "79121110001" not in log
