"""Container healthcheck for web: GET /healthz from gunicorn's own port, as the proxy would.

Standard library only, so it costs milliseconds, not a Django start-up. Django answers only
to names in ALLOWED_HOSTS, so the request carries the first of them as its Host header.
Exit 0 when the answer is 200 "ok", 1 otherwise (what Docker's healthcheck expects).
"""

import os
import sys
import urllib.request


def host_header() -> str:
    """The first concrete name in ALLOWED_HOSTS (``.example.ru`` → ``example.ru``; ``*`` → localhost)."""
    for host in os.environ.get("ALLOWED_HOSTS", "").split(","):
        host = host.strip().lstrip(".")
        if host and host != "*":
            return host
    return "localhost"


def main() -> int:
    request = urllib.request.Request("http://127.0.0.1:8000/healthz", headers={"Host": host_header()})
    try:
        with urllib.request.urlopen(request, timeout=4) as response:
            body = response.read()
    except OSError as exc:  # connection refused, timeout, HTTP error status
        print(f"healthz: {exc}", file=sys.stderr)
        return 1
    return 0 if body == b"ok" else 1


if __name__ == "__main__":
    sys.exit(main())
