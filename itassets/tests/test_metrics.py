"""/metrics: Prometheus text for allowed addresses or a bearer token, 403 for everyone else."""

import pytest

TOKEN = "metrics-token-0123456789abcdef"


@pytest.fixture
def metrics_settings(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1", "::1"]
    return settings


def test_metrics_from_an_allowed_address_is_prometheus_text(client, metrics_settings):
    # when
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")

    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; version=1.0.0; charset=utf-8"
    assert "# TYPE django_http_requests_total_by_method_total counter" in body
    assert "django_http_requests_before_middlewares_total " in body


def test_metrics_from_another_address_without_token_is_forbidden(client, metrics_settings):
    # when
    response = client.get("/metrics", REMOTE_ADDR="10.0.0.8")

    # then
    assert response.status_code == 403
    assert response.content == b"forbidden\n"


def test_metrics_with_the_token_from_another_address(client, metrics_settings):
    # when
    response = client.get("/metrics", REMOTE_ADDR="10.0.0.8", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")

    # then
    assert response.status_code == 200
    assert "django_http_requests_before_middlewares_total " in response.content.decode()


@pytest.mark.parametrize(
    "authorization",
    [f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", TOKEN, f"Basic {TOKEN}", "Bearer "],
)
def test_metrics_with_a_wrong_token_is_forbidden(client, metrics_settings, authorization):
    # when
    response = client.get("/metrics", REMOTE_ADDR="10.0.0.8", HTTP_AUTHORIZATION=authorization)

    # then
    assert response.status_code == 403


def test_metrics_empty_token_setting_never_matches(client, metrics_settings):
    # given: no token configured; an empty bearer must not pass
    metrics_settings.METRICS_TOKEN = ""

    # when
    response = client.get("/metrics", REMOTE_ADDR="10.0.0.8", HTTP_AUTHORIZATION="Bearer ")

    # then
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("remote_addr", "status"),
    [
        ("10.20.0.1", 200),
        ("10.20.255.254", 200),
        ("10.21.0.1", 403),
        ("192.168.1.9", 200),
        ("192.168.1.10", 403),
        ("fd00::5", 200),
        ("fd01::5", 403),
    ],
)
def test_metrics_allow_list_accepts_cidr_networks(client, metrics_settings, remote_addr, status):
    # given
    metrics_settings.METRICS_ALLOWED_IPS = ["10.20.0.0/16", "192.168.1.9", "fd00::/16", "junk"]

    # when
    response = client.get("/metrics", REMOTE_ADDR=remote_addr)

    # then
    assert response.status_code == status


def test_metrics_ignores_a_forged_forwarded_for_without_proxies(client, metrics_settings):
    # given: no proxy in front (PROXY_COUNT=0), so X-Forwarded-For is the client's own claim
    metrics_settings.PROXY_COUNT = 0

    # when
    response = client.get("/metrics", REMOTE_ADDR="10.0.0.8", HTTP_X_FORWARDED_FOR="127.0.0.1")

    # then
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("forwarded_for", "status"),
    [
        ("127.0.0.1", 200),
        ("10.0.0.8, 127.0.0.1", 200),
        ("127.0.0.1, 10.0.0.8", 403),
        ("", 403),
    ],
)
def test_metrics_behind_one_proxy_uses_the_address_it_saw(
    client, metrics_settings, forwarded_for, status
):
    # given: nginx (10.0.0.2) appends the address it received the request from
    metrics_settings.PROXY_COUNT = 1

    # when
    response = client.get("/metrics", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded_for)

    # then
    assert response.status_code == status


def test_metrics_refuses_post(client, metrics_settings):
    # when
    response = client.post("/metrics", REMOTE_ADDR="127.0.0.1")

    # then
    assert response.status_code == 405
