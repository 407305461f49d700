"""Settings from the environment: refusal without a secret, a clean deploy check, MariaDB options.

The start-up tests run ``manage.py`` in a subprocess with a cleaned environment (and no .env
file), as a container would start it.
"""

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

BASE_DIR = Path(settings.BASE_DIR)
SETTINGS_DUMP = (
    "import json, django; from django.conf import settings as s; django.setup(); "
    "print(json.dumps({k: getattr(s, k, None) for k in %r}))"
)


def _run(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/tmp", "LANG": "C.UTF-8"}
    clean["ENV_FILE"] = str(BASE_DIR / "var" / "no-such-env-file")
    return subprocess.run(
        [sys.executable, *args],
        cwd=BASE_DIR,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _production_env() -> dict[str, str]:
    db = connection.settings_dict
    return {
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "assets.example.cn",
        "CSRF_TRUSTED_ORIGINS": "https://assets.example.cn",
        "DATABASE_URL": (
            f"mysql://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT'] or 3306}/{db['NAME']}"
        ),
        "REDIS_URL": settings.REDIS_URL,
    }


def _settings_in_subprocess(names: list[str], **env: str) -> dict:
    result = _run("-c", SETTINGS_DUMP % (names,), DJANGO_SETTINGS_MODULE="itassets.settings", **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_start_up_refuses_without_secret_key_when_not_debugging():
    # when
    result = _run("manage.py", "check", DEBUG="false")

    # then
    assert result.returncode == 1
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith(
        "django.core.exceptions.ImproperlyConfigured: SECRET_KEY is not set. "
        "Set the SECRET_KEY environment variable"
    )


def test_start_up_refuses_an_empty_secret_key():
    # when
    result = _run("manage.py", "check", SECRET_KEY="")

    # then: DEBUG defaults to false
    assert result.returncode == 1
    assert "ImproperlyConfigured: SECRET_KEY is not set." in result.stderr


def test_debug_runs_without_secret_key():
    # when
    result = _run("manage.py", "check", DEBUG="true")

    # then
    assert result.returncode == 0, result.stderr
    assert result.stdout == "System check identified no issues (0 silenced).\n"


@pytest.mark.django_db
def test_deploy_check_is_clean_with_production_environment():
    # when
    result = _run(
        "manage.py",
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        "--database",
        "default",
        **_production_env(),
    )

    # then: only the HSTS preload notice is silenced (preloading is the domain owner's call)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == "System check identified no issues (1 silenced).\n"
    assert result.stderr == ""


@pytest.mark.django_db
def test_deploy_check_with_hsts_preload_silences_nothing():
    # when
    result = _run(
        "manage.py",
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        **_production_env(),
        SECURE_HSTS_PRELOAD="true",
    )

    # then
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == "System check identified no issues (0 silenced).\n"


@pytest.mark.django_db
def test_deploy_check_warns_when_https_is_switched_off():
    # when
    result = _run(
        "manage.py",
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        **_production_env(),
        SECURE_SSL_REDIRECT="false",
        SESSION_COOKIE_SECURE="false",
    )

    # then
    assert result.returncode == 1
    assert "(security.W008)" in result.stderr
    assert "(security.W012)" in result.stderr


@pytest.mark.django_db
def test_production_defaults_are_secure():
    # when
    values = _settings_in_subprocess(
        [
            "DEBUG",
            "SECURE_SSL_REDIRECT",
            "SECURE_HSTS_SECONDS",
            "SECURE_HSTS_INCLUDE_SUBDOMAINS",
            "SECURE_HSTS_PRELOAD",
            "SESSION_COOKIE_SECURE",
            "CSRF_COOKIE_SECURE",
            "SESSION_COOKIE_HTTPONLY",
            "X_FRAME_OPTIONS",
            "SECURE_CONTENT_TYPE_NOSNIFF",
            "SECURE_REFERRER_POLICY",
            "SECURE_REDIRECT_EXEMPT",
            "ALLOWED_HOSTS",
            "CSRF_TRUSTED_ORIGINS",
            "PROXY_COUNT",
            "CELERY_TASK_ALWAYS_EAGER",
        ],
        **_production_env(),
    )

    # then
    assert values == {
        "DEBUG": False,
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": False,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "X_FRAME_OPTIONS": "DENY",
        "SECURE_CONTENT_TYPE_NOSNIFF": True,
        "SECURE_REFERRER_POLICY": "same-origin",
        "SECURE_REDIRECT_EXEMPT": ["^health$", "^ready$", "^metrics$"],
        "ALLOWED_HOSTS": ["assets.example.cn"],
        "CSRF_TRUSTED_ORIGINS": ["https://assets.example.cn"],
        "PROXY_COUNT": 0,
        "CELERY_TASK_ALWAYS_EAGER": False,
    }


def test_embedded_defaults_without_services():
    # when: nothing but DEBUG set (make run)
    values = _settings_in_subprocess(
        ["DB_IS_MYSQL", "CACHES", "CELERY_TASK_ALWAYS_EAGER", "CELERY_BROKER_URL"], DEBUG="true"
    )

    # then
    assert values == {
        "DB_IS_MYSQL": False,
        "CACHES": {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
        "CELERY_TASK_ALWAYS_EAGER": True,
        "CELERY_BROKER_URL": "memory://",
    }


def test_mysql_url_gives_utf8mb4_strict_mode_and_test_collation():
    # given: the suite itself runs on MariaDB
    db = settings.DATABASES["default"]

    # then
    assert db["ENGINE"] == "django.db.backends.mysql"
    assert db["OPTIONS"]["charset"] == "utf8mb4"
    assert db["OPTIONS"]["init_command"].startswith(
        "SET sql_mode='STRICT_TRANS_TABLES,NO_ZERO_DATE,NO_ZERO_IN_DATE,ERROR_FOR_DIVISION_BY_ZERO'"
    )
    assert db["OPTIONS"]["isolation_level"] == "read committed"
    assert db["TEST"]["CHARSET"] == "utf8mb4"
    assert db["TEST"]["COLLATION"] == "utf8mb4_unicode_ci"
    assert db["CONN_HEALTH_CHECKS"] is True


@pytest.mark.django_db
def test_mariadb_session_is_strict_utf8mb4():
    # when
    with connection.cursor() as cursor:
        cursor.execute("SELECT @@SESSION.sql_mode, @@character_set_client, @@time_zone")
        sql_mode, charset, time_zone = cursor.fetchone()
        cursor.execute(
            "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME "
            "FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = DATABASE()"
        )
        db_charset, db_collation = cursor.fetchone()

    # then
    assert set(sql_mode.split(",")) == {
        "STRICT_TRANS_TABLES",
        "NO_ZERO_DATE",
        "NO_ZERO_IN_DATE",
        "ERROR_FOR_DIVISION_BY_ZERO",
    }
    assert charset == "utf8mb4"
    assert time_zone == "+00:00"
    assert (db_charset, db_collation) == ("utf8mb4", "utf8mb4_unicode_ci")


@pytest.mark.django_db
def test_chinese_and_emoji_round_trip_through_mariadb():
    # given
    from django.contrib.auth.models import Group

    Group.objects.create(name="测试组😀")

    # when
    name = Group.objects.get(name="测试组😀").name

    # then
    assert name == "测试组😀"


def _settings_variables() -> set[str]:
    source = (BASE_DIR / "itassets" / "settings.py").read_text()
    return set(
        re.findall(
            r'env\.(?:str|bool|int|float|list|path|db_url|url|json)\(\s*"([A-Z0-9_]+)"', source
        )
    )


def test_env_example_lists_every_variable_settings_reads():
    # given: the part above the Docker Compose section (its variables are checked against
    # docker-compose.yml in test_deploy_files.py)
    example = (BASE_DIR / "deploy" / ".env.example").read_text()
    example = example.split("Docker Compose only", 1)[0]
    listed = set(re.findall(r"^(?:# )?([A-Z][A-Z0-9_]+)=", example, flags=re.MULTILINE))

    # then
    assert _settings_variables() - listed == set()
    assert listed - _settings_variables() == set()


def test_env_example_copied_to_env_refuses_to_start_until_a_secret_is_set():
    # when
    result = _run("manage.py", "check", ENV_FILE=str(BASE_DIR / "deploy" / ".env.example"))

    # then
    assert result.returncode == 1
    assert "ImproperlyConfigured: SECRET_KEY is not set." in result.stderr


def test_env_example_with_a_secret_passes_the_deploy_check():
    # given
    env = {"ENV_FILE": str(BASE_DIR / "deploy" / ".env.example")}

    # when
    result = _run(
        "manage.py",
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        SECRET_KEY=secrets.token_urlsafe(50),
        **env,
    )
    values = _settings_in_subprocess(
        ["ORGANISATION_NAME", "DEFAULT_FROM_EMAIL", "EMAIL_USE_SSL", "PROXY_COUNT", "LOG_FORMAT"],
        SECRET_KEY=secrets.token_urlsafe(50),
        **env,
    )

    # then
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == "System check identified no issues (1 silenced).\n"
    assert values == {
        "ORGANISATION_NAME": "示例单位",
        "DEFAULT_FROM_EMAIL": "IT资产管理 <itassets@example.cn>",
        "EMAIL_USE_SSL": True,
        "PROXY_COUNT": 1,
        "LOG_FORMAT": "json",
    }
