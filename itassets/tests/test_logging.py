"""Request ids: made or taken from the proxy, echoed back, and present on every JSON log line."""

import io
import json
import logging
import re

import pytest

from itassets.logging import JsonFormatter


@pytest.fixture
def json_log():
    """The configured console handler, switched to JSON lines written into a buffer."""
    handler = next(h for h in logging.getLogger("django").handlers if h.name == "console")
    buffer = io.StringIO()
    old_stream = handler.setStream(buffer)
    old_formatter = handler.formatter
    handler.setFormatter(JsonFormatter())

    def lines():
        return [json.loads(line) for line in buffer.getvalue().splitlines()]

    yield lines
    handler.setFormatter(old_formatter)
    handler.setStream(old_stream)


def test_a_response_gets_a_generated_request_id(client):
    # when
    response = client.get("/health")

    # then
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


def test_each_request_gets_its_own_id(client):
    # when
    first = client.get("/health")
    second = client.get("/health")

    # then
    assert first["X-Request-ID"] != second["X-Request-ID"]


def test_a_valid_incoming_request_id_is_echoed(client):
    # when
    response = client.get("/health", HTTP_X_REQUEST_ID="nginx-4f1c.2_A")

    # then
    assert response["X-Request-ID"] == "nginx-4f1c.2_A"


@pytest.mark.parametrize(
    "incoming",
    ["has spaces in it", "a" * 65, "a" * 200, "semi;colon", "中文", "line\\nbreak"],
)
def test_an_invalid_incoming_request_id_is_replaced(client, incoming):
    # when
    response = client.get("/health", HTTP_X_REQUEST_ID=incoming)

    # then
    assert response["X-Request-ID"] != incoming
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


def test_json_log_line_of_a_request_carries_its_request_id(client, json_log):
    # given: Django logs "Not Found" after the middleware chain has returned
    # when
    response = client.get("/no-such-page", HTTP_X_REQUEST_ID="req-404-test")

    # then
    assert response.status_code == 404
    [line] = [entry for entry in json_log() if entry["logger"] == "django.request"]
    assert sorted(line) == ["level", "logger", "message", "request_id", "time"]
    assert line["level"] == "WARNING"
    assert line["message"] == "Not Found: /no-such-page"
    assert line["request_id"] == "req-404-test"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", line["time"])


@pytest.mark.django_db
def test_json_log_line_inside_the_view_carries_the_generated_request_id(
    client, json_log, make_user
):
    # given: an employee may not use the admin site (PermissionDenied raised in the view)
    client.force_login(make_user("employee"))

    # when
    response = client.get("/admin/")

    # then
    assert response.status_code == 403
    [line] = [entry for entry in json_log() if entry["logger"] == "django.request"]
    assert line["message"] == "Forbidden (Permission denied): /admin/"
    assert line["request_id"] == response["X-Request-ID"]


def test_log_lines_outside_a_request_have_a_dash(json_log):
    # when
    logging.getLogger("django.itassets.test").warning("中文消息 %s", 1)

    # then
    [line] = json_log()
    assert line["message"] == "中文消息 1"
    assert line["request_id"] == "-"
    assert line["logger"] == "django.itassets.test"
