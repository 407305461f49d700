"""pytest plugin loaded before Django settings (``-p itassets.testing.plugin``).

Decides which real services the suite runs on, before ``itassets.settings`` reads the
environment:

- DATABASE_URL unset → MariaDB at ``mysql://root@127.0.0.1:3306/itassets`` when it answers.
- REDIS_URL unset → Redis at ``redis://127.0.0.1:6379/15`` (a DB number of its own).
- With ``CI=true`` a missing service stops the run with a message naming it. Without CI the
  suite also refuses to run without them, unless ``ITASSETS_TEST_ALLOW_SQLITE=1`` is set
  explicitly (then MySQL-, Redis-, S3- and browser-dependent tests fail, they never skip).
"""

from __future__ import annotations

import os
import socket
import sys

DEFAULT_DATABASE_URL = "mysql://root@127.0.0.1:3306/itassets"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"


def _answers(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _resolve() -> list[str]:
    problems = []
    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-0123456789")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
    # Tests speak plain HTTP to the test client and the live server.
    os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
    os.environ.setdefault("SESSION_COOKIE_SECURE", "false")
    os.environ.setdefault("CSRF_COOKIE_SECURE", "false")
    os.environ.setdefault("STATIC_MANIFEST", "false")
    # WhiteNoise warns once per request when STATIC_ROOT does not exist yet.
    from pathlib import Path

    Path(__file__).resolve().parents[2].joinpath("var", "static").mkdir(parents=True, exist_ok=True)
    if "DATABASE_URL" not in os.environ:
        if _answers("127.0.0.1", 3306):
            os.environ["DATABASE_URL"] = DEFAULT_DATABASE_URL
        else:
            problems.append("MariaDB/MySQL is not answering on 127.0.0.1:3306 (DATABASE_URL unset)")
    if "REDIS_URL" not in os.environ:
        if _answers("127.0.0.1", 6379):
            os.environ["REDIS_URL"] = DEFAULT_REDIS_URL
        else:
            problems.append("Redis is not answering on 127.0.0.1:6379 (REDIS_URL unset)")
    # Tests run tasks eagerly unless a test starts a real worker (fixture celery_worker).
    os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")
    return problems


_problems = _resolve()
if _problems:
    message = "itassets test suite: required service missing:\n  - " + "\n  - ".join(_problems)
    if (
        os.environ.get("CI", "").lower() == "true"
        or os.environ.get("ITASSETS_TEST_ALLOW_SQLITE") != "1"
    ):
        sys.stderr.write(message + "\n")
        raise SystemExit(3)
    sys.stderr.write(message + "\n  (ITASSETS_TEST_ALLOW_SQLITE=1: continuing on SQLite)\n")


def pytest_report_header(config):
    return [
        f"itassets: DATABASE_URL={os.environ.get('DATABASE_URL', 'sqlite (embedded)')}",
        f"itassets: REDIS_URL={os.environ.get('REDIS_URL', '(none)')}",
    ]
