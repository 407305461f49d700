"""/health (liveness) and /ready (dependencies) against the real MariaDB, Redis and media dir."""

import socket
import threading
import time

import pytest


def _closed_port() -> int:
    """A local TCP port nobody listens on (bound once to pick it, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def silent_server():
    """A TCP server that accepts connections and never answers (a hung dependency)."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted = []
    stop = threading.Event()

    def _accept():
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _addr = server.accept()
            except OSError:
                continue
            accepted.append(conn)

    thread = threading.Thread(target=_accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(timeout=2)
    for conn in accepted:
        conn.close()
    server.close()


@pytest.fixture
def broker_on_redis(settings):
    """Celery as production runs it: not eager, broker on the real Redis."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = settings.REDIS_URL
    return settings


@pytest.mark.django_db
def test_health_answers_without_touching_the_database(client, django_assert_num_queries):
    # when
    with django_assert_num_queries(0):
        response = client.get("/health")

    # then
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "max-age=0, no-cache, no-store, must-revalidate, private"


def test_health_refuses_post(client):
    # when
    response = client.post("/health")

    # then
    assert response.status_code == 405


@pytest.mark.django_db
def test_ready_reports_every_check_ok_with_eager_celery(client, settings):
    # given
    settings.CELERY_TASK_ALWAYS_EAGER = True

    # when
    response = client.get("/ready")

    # then
    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "ok"
    assert sorted(body["checks"]) == ["cache", "database", "storage"]
    assert all(check["ok"] is True for check in body["checks"].values())
    assert "failed" not in body
    assert "warnings" not in body


@pytest.mark.django_db
def test_ready_database_check_works_inside_a_test_transaction(client, settings):
    # given: the test holds an open transaction; the check uses its own thread's connection
    settings.CELERY_TASK_ALWAYS_EAGER = True

    # when
    response = client.get("/ready")

    # then
    assert response.status_code == 200
    assert response.json()["checks"]["database"]["ok"] is True


@pytest.mark.django_db
def test_ready_checks_the_broker_when_celery_is_not_eager(client, broker_on_redis):
    # when
    response = client.get("/ready")

    # then
    body = response.json()
    assert response.status_code == 200
    assert sorted(body["checks"]) == ["broker", "cache", "database", "storage"]
    assert body["checks"]["broker"]["ok"] is True
    assert isinstance(body["checks"]["broker"]["ms"], float)


@pytest.mark.django_db
def test_ready_fails_fast_naming_the_broker_on_a_closed_port(client, broker_on_redis):
    # given
    broker_on_redis.CELERY_BROKER_URL = f"redis://127.0.0.1:{_closed_port()}/0"
    broker_on_redis.READY_CHECK_TIMEOUT = 0.5

    # when
    started = time.monotonic()
    response = client.get("/ready")
    elapsed = time.monotonic() - started

    # then
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "unavailable"
    assert body["failed"] == ["broker"]
    assert body["checks"]["broker"]["ok"] is False
    assert body["checks"]["broker"]["error"].startswith("ConnectionError: ")
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["cache"]["ok"] is True
    assert body["checks"]["storage"]["ok"] is True
    assert elapsed < 0.5 + 0.5


@pytest.mark.django_db
def test_ready_fails_naming_the_cache_on_a_closed_port(client, settings):
    # given
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.READY_CHECK_TIMEOUT = 0.5
    cache = dict(settings.CACHES["default"])
    cache["LOCATION"] = f"redis://127.0.0.1:{_closed_port()}/0"
    settings.CACHES = {"default": cache}

    # when
    started = time.monotonic()
    response = client.get("/ready")
    elapsed = time.monotonic() - started

    # then
    body = response.json()
    assert response.status_code == 503
    assert body["failed"] == ["cache"]
    assert body["checks"]["cache"]["error"].startswith("ConnectionError: ")
    assert body["checks"]["database"]["ok"] is True
    assert elapsed < 0.5 + 0.5


@pytest.mark.django_db
def test_ready_gives_up_on_a_hung_broker_after_the_timeout(client, broker_on_redis, silent_server):
    # given: the port accepts connections but never answers PING
    broker_on_redis.CELERY_BROKER_URL = f"redis://127.0.0.1:{silent_server}/0"
    broker_on_redis.READY_CHECK_TIMEOUT = 0.5

    # when
    started = time.monotonic()
    response = client.get("/ready")
    elapsed = time.monotonic() - started

    # then
    body = response.json()
    assert response.status_code == 503
    assert body["failed"] == ["broker"]
    assert body["checks"]["broker"] == {"ok": False, "error": "timed out after 0.5s"}
    assert 0.5 <= elapsed < 0.5 + 0.5


@pytest.mark.django_db
def test_ready_lists_warnings_without_failing(client, settings, monkeypatch):
    # given
    from itassets import health

    settings.CELERY_TASK_ALWAYS_EAGER = True
    monkeypatch.setattr(health, "ready_warnings", lambda: ["scheduler heartbeat is 10 min old"])

    # when
    response = client.get("/ready")

    # then
    assert response.status_code == 200
    assert response.json()["warnings"] == ["scheduler heartbeat is 10 min old"]
