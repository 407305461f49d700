"""Shared fixtures: users per role and clients logged in as them."""

import pytest

from itassets.roles import ROLES
from itassets.testing.fixtures import (  # noqa: F401 (fixtures)
    celery_worker,
    django_db_modify_db_settings,
    redis_db,
    s3_server,
    s3_storage,
)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """PBKDF2's cost is for production; tests only need passwords that check."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _celery_join_flag_reset():
    """Celery keeps "may this thread wait for a task result" in one process-wide flag, which
    eager tasks set and restore around each call; eager tasks run from several threads at once
    (the concurrency tests) can restore it in the wrong order and leave it set, and a later
    test that waits for a real worker's result would then be refused. Start each test clean."""
    from celery._state import _set_task_join_will_block

    _set_task_join_will_block(False)
    yield
    _set_task_join_will_block(False)


@pytest.fixture
def english():
    """Run a test with English messages, for assertions on a service's message text."""
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture
def make_user(db, django_user_model):
    """make_user("clerk", username=...) → a user in that role's group (no role: None)."""
    from django.contrib.auth.models import Group

    counter = {"n": 0}

    def _make(role=None, *, username=None, password="Passw0rd!2026", **extra):
        counter["n"] += 1
        username = username or f"{role or 'user'}{counter['n']}"
        user = django_user_model.objects.create_user(username=username, password=password, **extra)
        if role:
            user.groups.add(Group.objects.get(name=ROLES[role].group))
        return user

    return _make


@pytest.fixture
def client_as(client, make_user):
    """client_as("employee") → the test client logged in as a new user of that role."""

    def _login(role=None, user=None):
        user = user or make_user(role)
        client.force_login(user)
        client.user = user
        return client

    return _login


@pytest.fixture
def admin_user_role(make_user):
    return make_user("admin")


@pytest.fixture
def clerk(make_user):
    return make_user("clerk")


@pytest.fixture
def employee(make_user):
    return make_user("employee")
