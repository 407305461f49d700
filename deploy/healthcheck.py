"""Docker HEALTHCHECK of the web container: GET /health on the local gunicorn.

Django answers only for ``ALLOWED_HOSTS``, so the request carries the first of them as its
Host header (``.example.cn`` → ``health.example.cn``, ``*`` → ``localhost``). Exit 0 when
/health returns 200, 1 otherwise. Standard library only.
"""

import os
import sys
import urllib.request


def health_host() -> str:
    hosts = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "").split(",") if h.strip()]
    if not hosts or hosts[0] == "*":
        return "localhost"
    host = hosts[0]
    return f"health{host}" if host.startswith(".") else host


def main() -> int:
    port = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000").rsplit(":", 1)[-1]
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/health", headers={"Host": health_host()}
    )
    try:
        with urllib.request.urlopen(request, timeout=4) as response:  # noqa: S310 (fixed URL)
            return 0 if response.status == 200 else 1
    except OSError as exc:
        print(f"healthcheck: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
