"""``manage.py bootstrap_admin``: the first administrator from the environment, idempotently."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.utils import translation

from itassets.roles import ROLES

pytestmark = pytest.mark.django_db

STRONG = "Lan-Ting-Xu-353!"
ADMIN_GROUP = ROLES["admin"].group


@pytest.fixture
def admin_env(monkeypatch):
    def _set(username="itadmin", password=STRONG, email="it@example.cn"):
        for key, value in (
            ("ADMIN_USERNAME", username),
            ("ADMIN_PASSWORD", password),
            ("ADMIN_EMAIL", email),
        ):
            if value is None:
                monkeypatch.delenv(key, raising=False)
            else:
                monkeypatch.setenv(key, value)

    return _set


def run(*args) -> str:
    """The command's output; validator messages in English (from manage.py: LANGUAGE_CODE)."""
    out = io.StringIO()
    with translation.override("en"):
        call_command("bootstrap_admin", *args, stdout=out)
    return out.getvalue()


def test_creates_an_active_superuser_in_the_admin_group(admin_env):
    # given
    admin_env()

    # when
    output = run()

    # then
    user = get_user_model().objects.get(username="itadmin")
    assert output == "Created administrator 'itadmin'.\n"
    assert (user.is_active, user.is_staff, user.is_superuser) == (True, True, True)
    assert user.email == "it@example.cn"
    assert user.check_password(STRONG)
    assert list(user.groups.values_list("name", flat=True)) == [ADMIN_GROUP]


def test_running_again_changes_nothing_and_keeps_the_password(admin_env):
    # given
    admin_env()
    run()
    user = get_user_model().objects.get(username="itadmin")
    before = (user.password, user.email, user.last_login, user.date_joined)
    admin_env(password="Another-Strong-Passw0rd!")

    # when
    output = run()

    # then
    user.refresh_from_db()
    assert output == (
        "Administrator 'itadmin' is already set up; nothing changed.\n"
        "The existing password was kept (use --reset-password to set ADMIN_PASSWORD).\n"
    )
    assert (user.password, user.email, user.last_login, user.date_joined) == before
    assert get_user_model().objects.count() == 1
    assert user.groups.count() == 1


def test_reset_password_sets_the_new_password(admin_env):
    # given
    admin_env()
    run()
    admin_env(password="Another-Strong-Passw0rd!")

    # when
    output = run("--reset-password")

    # then
    user = get_user_model().objects.get(username="itadmin")
    assert output == "Updated administrator 'itadmin': password.\n"
    assert user.check_password("Another-Strong-Passw0rd!")


def test_an_existing_ordinary_user_is_promoted(admin_env, make_user):
    # given
    user = make_user("clerk", username="itadmin", email="old@example.cn")
    admin_env()

    # when
    output = run()

    # then
    user.refresh_from_db()
    assert output == (
        "Updated administrator 'itadmin': is_staff, is_superuser, email, group.\n"
        "The existing password was kept (use --reset-password to set ADMIN_PASSWORD).\n"
    )
    assert (user.is_staff, user.is_superuser, user.email) == (True, True, "it@example.cn")
    assert set(user.groups.values_list("name", flat=True)) == {ADMIN_GROUP, ROLES["clerk"].group}
    assert user.check_password("Passw0rd!2026")


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("Ab1!", "This password is too short. It must contain at least 8 characters."),
        ("password123", "This password is too common."),
        ("73519284601", "This password is entirely numeric."),
        ("itadmin2026", "The password is too similar to the username."),
    ],
)
def test_a_weak_password_is_refused_and_nothing_is_created(admin_env, password, message):
    # given
    admin_env(password=password)

    # when
    with pytest.raises(CommandError) as exc:
        run()

    # then
    assert str(exc.value).startswith("Administrator 'itadmin' not saved:\n  - ")
    assert message in str(exc.value)
    assert not get_user_model().objects.exists()
    assert not Group.objects.get(name=ADMIN_GROUP).user_set.exists()


def test_a_weak_reset_password_leaves_the_old_one(admin_env):
    # given
    admin_env()
    run()
    admin_env(password="12345678")

    # when
    with pytest.raises(CommandError):
        run("--reset-password")

    # then
    assert get_user_model().objects.get(username="itadmin").check_password(STRONG)


def test_an_invalid_email_is_refused(admin_env):
    # given
    admin_env(email="not-an-address")

    # when
    with pytest.raises(CommandError) as exc:
        run()

    # then
    assert "Enter a valid email address." in str(exc.value)
    assert not get_user_model().objects.exists()


@pytest.mark.parametrize("missing", ["ADMIN_USERNAME", "ADMIN_PASSWORD"])
def test_missing_variables_are_an_error(admin_env, monkeypatch, missing):
    # given
    admin_env()
    monkeypatch.delenv(missing)

    # when
    with pytest.raises(CommandError) as exc:
        run()

    # then
    assert str(exc.value) == (
        "Set ADMIN_USERNAME and ADMIN_PASSWORD (and optionally ADMIN_EMAIL) in the environment."
    )
    assert not get_user_model().objects.exists()


def test_if_configured_skips_quietly_without_variables(admin_env):
    # given
    admin_env(username=None, password=None, email=None)

    # when
    output = run("--if-configured")

    # then
    assert output == "bootstrap_admin: ADMIN_USERNAME/ADMIN_PASSWORD unset, skipped.\n"
    assert not get_user_model().objects.exists()
