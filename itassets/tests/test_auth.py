"""Login, logout, password change and the brute-force lockout (django-axes) on the real views."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt

PASSWORD = "Passw0rd!2026"
LOCKED_TITLE = "登录失败次数过多，账号已临时锁定"
LOCKED_TEXT = "连续 5 次登录失败，请 15 分钟后再试；如忘记密码请联系系统管理员。"
WRONG_LOGIN = "用户名或密码不正确。注意：连续失败 5 次将锁定 15 分钟。"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_hashing(settings):
    """Dozens of logins here: the production PBKDF2 cost would make this file slow."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _login(client, username, password, ip="10.1.1.1"):
    return client.post(
        "/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=ip
    )


def _is_logged_in(client) -> bool:
    return "_auth_user_id" in client.session


@pytest.fixture
def zhang(make_user):
    return make_user("employee", username="zhangsan", password=PASSWORD)


def test_login_page_is_in_chinese(client):
    # when
    response = client.get("/accounts/login/")

    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert response["Content-Language"] == "zh-hans"
    assert '<html lang="zh-CN">' in html
    assert '<label class="form-label" for="id_username">用户名' in html
    assert '<label class="form-label" for="id_password">密码' in html
    assert 'autocomplete="current-password"' in html


def test_login_with_the_right_password_lands_on_home(client, zhang):
    # when
    response = client.post(
        "/accounts/login/", {"username": "zhangsan", "password": PASSWORD}, follow=True
    )

    # then
    assert response.redirect_chain == [("/", 302)]
    assert response.status_code == 200
    assert response.wsgi_request.user == zhang
    assert _is_logged_in(client)


def test_login_follows_a_local_next_but_not_a_foreign_one(client, zhang):
    # when
    local = client.post(
        "/accounts/login/?next=/accounts/password/",
        {"username": "zhangsan", "password": PASSWORD},
    )
    client.logout()
    foreign = client.post(
        "/accounts/login/?next=https://evil.example.com/",
        {"username": "zhangsan", "password": PASSWORD},
    )

    # then
    assert local["Location"] == "/accounts/password/"
    assert foreign["Location"] == "/"


def test_login_with_a_wrong_password_shows_the_chinese_error(client, zhang):
    # when
    response = _login(client, "zhangsan", "wrong-password")

    # then
    assert response.status_code == 200
    assert WRONG_LOGIN in response.content.decode()
    assert not _is_logged_in(client)
    assert AccessAttempt.objects.get(username="zhangsan").failures_since_start == 1


def test_inactive_user_cannot_log_in(client, zhang):
    # given
    zhang.is_active = False
    zhang.save(update_fields=["is_active"])

    # when
    response = _login(client, "zhangsan", PASSWORD)

    # then
    assert response.status_code == 200
    assert not _is_logged_in(client)


def test_home_requires_login(client):
    # when
    response = client.get("/")

    # then
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/"


def test_logout_is_post_only(client, zhang):
    # given
    client.force_login(zhang)

    # when
    response = client.get("/accounts/logout/")

    # then: still logged in
    assert response.status_code == 405
    assert _is_logged_in(client)


def test_logout_by_post_ends_the_session(client, zhang):
    # given
    client.force_login(zhang)

    # when
    response = client.post("/accounts/logout/")

    # then
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    assert not _is_logged_in(client)
    assert client.get("/").status_code == 302


def test_password_change_page_requires_login(client):
    # when
    response = client.get("/accounts/password/")

    # then
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/accounts/password/"


def test_password_change_changes_the_password_and_keeps_the_session(client, zhang):
    # given
    client.force_login(zhang)
    page = client.get("/accounts/password/")

    # when
    response = client.post(
        "/accounts/password/",
        {
            "old_password": PASSWORD,
            "new_password1": "Zq7!mountain-River",
            "new_password2": "Zq7!mountain-River",
        },
        follow=True,
    )

    # then
    assert page.status_code == 200
    assert 'name="old_password"' in page.content.decode()
    assert response.redirect_chain == [("/accounts/password/done/", 302)]
    assert response.status_code == 200
    zhang.refresh_from_db()
    assert zhang.check_password("Zq7!mountain-River")
    assert _is_logged_in(client)


def test_password_change_with_a_wrong_old_password_changes_nothing(client, zhang):
    # given
    client.force_login(zhang)

    # when
    response = client.post(
        "/accounts/password/",
        {
            "old_password": "not-the-password",
            "new_password1": "Zq7!mountain-River",
            "new_password2": "Zq7!mountain-River",
        },
    )

    # then
    assert response.status_code == 200
    assert response.context["form"].errors == {"old_password": ["你的旧密码不正确。请重新输入。"]}
    zhang.refresh_from_db()
    assert zhang.check_password(PASSWORD)


def test_password_change_rejects_a_short_new_password(client, zhang):
    # given
    client.force_login(zhang)

    # when
    response = client.post(
        "/accounts/password/",
        {"old_password": PASSWORD, "new_password1": "Ab1!", "new_password2": "Ab1!"},
    )

    # then
    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["new_password2"]
    zhang.refresh_from_db()
    assert zhang.check_password(PASSWORD)


def test_five_failures_lock_the_username_from_that_address(client, zhang):
    # given
    for _ in range(5):
        _login(client, "zhangsan", "wrong-password")

    # when: the sixth attempt has the right password
    response = _login(client, "zhangsan", PASSWORD)

    # then
    html = response.content.decode()
    assert response.status_code == 429
    assert LOCKED_TITLE in html
    assert LOCKED_TEXT in html
    assert not _is_logged_in(client)
    attempt = AccessAttempt.objects.get(username="zhangsan", ip_address="10.1.1.1")
    assert attempt.failures_since_start == 6  # attempts during a lockout count (and extend it)


def test_the_fifth_failure_already_shows_the_lockout_page(client, zhang):
    # given
    for _ in range(4):
        assert _login(client, "zhangsan", "wrong-password").status_code == 200

    # when
    response = _login(client, "zhangsan", "wrong-password")

    # then
    assert response.status_code == 429
    assert LOCKED_TITLE in response.content.decode()


def test_four_failures_do_not_lock(client, zhang):
    # given
    for _ in range(4):
        _login(client, "zhangsan", "wrong-password")

    # when
    response = _login(client, "zhangsan", PASSWORD)

    # then: success resets the counter
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert AccessAttempt.objects.filter(username="zhangsan").count() == 0


def test_lockout_does_not_reach_another_address(client, zhang):
    # given
    for _ in range(5):
        _login(client, "zhangsan", "wrong-password", ip="10.1.1.1")

    # when
    response = _login(client, "zhangsan", PASSWORD, ip="10.2.2.2")

    # then
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert _is_logged_in(client)


def test_lockout_does_not_reach_another_user_from_the_same_address(client, zhang, make_user):
    # given
    make_user("employee", username="lisi", password=PASSWORD)
    for _ in range(5):
        _login(client, "zhangsan", "wrong-password")

    # when
    response = _login(client, "lisi", PASSWORD)

    # then
    assert response.status_code == 302


def test_a_forged_forwarded_for_does_not_escape_the_lockout(client, zhang):
    # given: no proxy configured, so X-Forwarded-For is the attacker's own claim
    for _ in range(5):
        _login(client, "zhangsan", "wrong-password")

    # when
    response = client.post(
        "/accounts/login/",
        {"username": "zhangsan", "password": PASSWORD},
        REMOTE_ADDR="10.1.1.1",
        HTTP_X_FORWARDED_FOR="10.9.9.9",
    )

    # then
    assert response.status_code == 429


def test_behind_a_proxy_the_lockout_follows_the_forwarded_address(client, zhang, settings):
    # given: nginx at 10.0.0.2 appends the client's address
    settings.PROXY_COUNT = 1
    for _ in range(5):
        client.post(
            "/accounts/login/",
            {"username": "zhangsan", "password": "wrong-password"},
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR="10.1.1.1",
        )

    # when
    same_client = client.post(
        "/accounts/login/",
        {"username": "zhangsan", "password": PASSWORD},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="10.9.9.9, 10.1.1.1",
    )
    other_client = client.post(
        "/accounts/login/",
        {"username": "zhangsan", "password": PASSWORD},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="10.2.2.2",
    )

    # then
    assert same_client.status_code == 429
    assert other_client.status_code == 302
    assert AccessAttempt.objects.get(username="zhangsan").ip_address == "10.1.1.1"


def test_login_works_again_after_the_cool_off(client, zhang):
    # given
    for _ in range(5):
        _login(client, "zhangsan", "wrong-password")
    assert _login(client, "zhangsan", PASSWORD).status_code == 429

    # when: the failures are 16 minutes old
    moved = AccessAttempt.objects.filter(username="zhangsan").update(
        attempt_time=AccessAttempt.objects.get(username="zhangsan").attempt_time
        - timedelta(minutes=16)
    )
    response = _login(client, "zhangsan", PASSWORD)

    # then
    assert moved == 1
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert _is_logged_in(client)


def test_lockout_is_still_on_after_fourteen_minutes(client, zhang):
    # given
    for _ in range(5):
        _login(client, "zhangsan", "wrong-password")
    AccessAttempt.objects.filter(username="zhangsan").update(
        attempt_time=AccessAttempt.objects.get(username="zhangsan").attempt_time
        - timedelta(minutes=14)
    )

    # when
    response = _login(client, "zhangsan", PASSWORD)

    # then
    assert response.status_code == 429
    assert not _is_logged_in(client)


def test_the_lockout_texts_follow_the_configured_limit_and_cool_off(client, zhang, settings):
    # given: 3 failures lock for 2 hours
    settings.AXES_FAILURE_LIMIT = 3
    settings.AXES_COOLOFF_TIME = 2.0

    # when
    first = _login(client, "zhangsan", "wrong-password")
    _login(client, "zhangsan", "wrong-password")
    locked = _login(client, "zhangsan", "wrong-password")

    # then
    assert "用户名或密码不正确。注意：连续失败 3 次将锁定 120 分钟。" in first.content.decode()
    assert locked.status_code == 429
    assert "连续 3 次登录失败，请 120 分钟后再试；" in locked.content.decode()
