"""Container healthchecks for web, bot and beat (docker-compose.yml).

    healthcheck.py          web: GET /healthz from gunicorn's own port, as the proxy would
    healthcheck.py bot      bot: polling — the heartbeat file is fresh (the Bot API answered a
                            getUpdates lately); webhook mode — PTB's web server accepts connections
                            on :8081; no TELEGRAM_BOT_TOKEN — healthy, the bot is off by choice
    healthcheck.py beat     beat: the heartbeat file is fresh (beat's loop ticked lately)

Standard library only, so a check costs milliseconds, not a Django start-up. The heartbeat file is
$HEARTBEAT_FILE, touched by the process itself (config/heartbeat.py); "fresh" means younger than
HEARTBEAT_MAX_AGE seconds (default 60: beat ticks every 5 s at most, the bot's long poll returns
within 10 s). Exit 0 when healthy, 1 otherwise (what Docker's healthcheck expects), with the reason
on stderr (`docker inspect` shows it under State.Health).
"""

import os
import socket
import sys
import time
import urllib.request

BOT_WEBHOOK_PORT = 8081


def host_header() -> str:
    """The first concrete name in ALLOWED_HOSTS (``.example.ru`` → ``example.ru``; ``*`` → localhost)."""
    for host in os.environ.get("ALLOWED_HOSTS", "").split(","):
        host = host.strip().lstrip(".")
        if host and host != "*":
            return host
    return "localhost"


def check_web() -> str | None:
    """Django answers to names in ALLOWED_HOSTS only, so the request carries the first of them."""
    request = urllib.request.Request("http://127.0.0.1:8000/healthz", headers={"Host": host_header()})
    # Straight to the container's own port: HTTP_PROXY (for Telegram) must not carry this request.
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with direct.open(request, timeout=4) as response:
            body = response.read()
    except OSError as exc:  # connection refused, timeout, HTTP error status
        return f"healthz: {exc}"
    return None if body == b"ok" else f"healthz answered {body[:100]!r}"


def check_heartbeat() -> str | None:
    path = os.environ.get("HEARTBEAT_FILE", "")
    if not path:
        return "HEARTBEAT_FILE is not set"
    max_age = float(os.environ.get("HEARTBEAT_MAX_AGE", "60"))
    try:
        age = time.time() - os.stat(path).st_mtime
    except FileNotFoundError:
        return f"no heartbeat yet ({path})"
    return None if age <= max_age else f"last heartbeat {age:.0f} s ago (more than {max_age:.0f})"


def check_bot() -> str | None:
    if not os.environ.get("TELEGRAM_BOT_TOKEN"):
        return None
    if os.environ.get("TELEGRAM_WEBHOOK_URL"):
        try:
            socket.create_connection(("127.0.0.1", BOT_WEBHOOK_PORT), timeout=4).close()
        except OSError as exc:
            return f"webhook server on :{BOT_WEBHOOK_PORT}: {exc}"
        return None
    return check_heartbeat()


CHECKS = {"web": check_web, "bot": check_bot, "beat": check_heartbeat}


def main(argv: list[str]) -> int:
    service = argv[0] if argv else "web"
    if service not in CHECKS:
        print(f"usage: healthcheck.py [{'|'.join(CHECKS)}]", file=sys.stderr)
        return 2
    problem = CHECKS[service]()
    if problem:
        print(f"{service}: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
