"""Fixtures of the notifications tests: local robot/webhook servers, an SMTP server, the
default reminder rules, and settings for sending."""

import pytest

from .servers import RobotServer, SmtpServer


@pytest.fixture
def robot_server():
    """robot_server(default=..., replies=[...]) → a started local HTTP server (stopped after)."""
    servers = []

    def _start(**kwargs) -> RobotServer:
        server = RobotServer(**kwargs).start()
        servers.append(server)
        return server

    yield _start
    for server in servers:
        server.stop()


@pytest.fixture
def smtp_server(settings):
    """A local SMTP server; Django's email backend sends to it."""
    server = SmtpServer().start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = server.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    yield server
    server.stop()


@pytest.fixture
def default_rules(db):
    """The default reminder rules (a transactional test before may have flushed them)."""
    from notifications.defaults import install_rules
    from notifications.models import ReminderRule

    install_rules(ReminderRule)
    return {rule.kind: rule for rule in ReminderRule.objects.all()}


@pytest.fixture
def site_url(settings):
    settings.SITE_URL = "https://itassets.example.cn"
    return settings.SITE_URL


@pytest.fixture(autouse=True)
def test_event_type():
    """An event type "test" that every channel may carry by default (removed afterwards)."""
    from notifications import registry
    from notifications.models import Channel

    registry.register_event_type("test", "Test", defaults={"*": Channel.values})
    yield
    registry._event_types.pop("test", None)
