"""Security headers on every response, HTTPS handling, and CSRF on the login form."""

import pytest
from django.test import Client


@pytest.mark.parametrize("path", ["/accounts/login/", "/health", "/no-such-page"])
def test_responses_carry_the_security_headers(client, path):
    # when
    response = client.get(path)

    # then
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def test_hsts_is_sent_over_https(client):
    # when
    secure = client.get("/accounts/login/", secure=True)
    plain = client.get("/accounts/login/")

    # then
    assert secure["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert "Strict-Transport-Security" not in plain


def test_plain_http_is_redirected_except_the_probes(settings):
    # given: production default (the test environment switches the redirect off)
    settings.SECURE_SSL_REDIRECT = True
    client = Client()

    # when
    page = client.get("/accounts/login/")
    health = client.get("/health")
    metrics = client.get("/metrics")

    # then
    assert page.status_code == 301
    assert page["Location"] == "https://testserver/accounts/login/"
    assert health.status_code == 200
    assert metrics.status_code == 200


def test_https_behind_the_proxy_is_recognised(settings):
    # given
    settings.SECURE_SSL_REDIRECT = True
    client = Client()

    # when
    response = client.get("/accounts/login/", HTTP_X_FORWARDED_PROTO="https")

    # then
    assert response.status_code == 200


def test_session_cookie_is_http_only(client, make_user):
    # given
    user = make_user("employee", username="zhaoliu")

    # when
    response = client.post("/accounts/login/", {"username": "zhaoliu", "password": "Passw0rd!2026"})

    # then
    assert response.status_code == 302
    assert response.cookies["sessionid"]["httponly"] is True
    assert response.cookies["sessionid"]["samesite"] == "Lax"
    assert client.session["_auth_user_id"] == str(user.pk)


@pytest.mark.django_db
def test_login_post_without_csrf_token_is_refused(make_user):
    # given
    make_user("employee", username="zhaoliu")
    client = Client(enforce_csrf_checks=True)

    # when
    response = client.post("/accounts/login/", {"username": "zhaoliu", "password": "Passw0rd!2026"})

    # then: refused, and nobody logged in
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_login_post_with_the_csrf_token_from_the_form_works(make_user):
    # given
    make_user("employee", username="zhaoliu")
    client = Client(enforce_csrf_checks=True)
    token = client.get("/accounts/login/").context["csrf_token"]

    # when
    response = client.post(
        "/accounts/login/",
        {"username": "zhaoliu", "password": "Passw0rd!2026", "csrfmiddlewaretoken": str(token)},
    )

    # then
    assert response.status_code == 302
    assert response["Location"] == "/"


@pytest.mark.django_db
def test_logout_post_without_csrf_token_is_refused(make_user):
    # given
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user("employee"))

    # when
    response = client.post("/accounts/logout/")

    # then
    assert response.status_code == 403
    assert "_auth_user_id" in client.session


def test_pages_carry_the_csrf_token_for_htmx(client):
    # when
    html = client.get("/accounts/login/").content.decode()

    # then
    assert 'hx-headers=\'{"X-CSRFToken": "' in html
