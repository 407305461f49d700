"""Channels against local servers: signatures and content as DingTalk, WeCom, Feishu and a
webhook receiver check them, email through a real SMTP server, and every bad input (wrong
secret, malformed URL, rate limit, 500, a hanging server, no email address) recorded on the
delivery with a clear reason, retried or given up, never raised."""

import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from assets.tests.factories import PersonFactory
from notifications import services
from notifications.channels import dingtalk_sign, feishu_sign, webhook_signature
from notifications.models import Channel, Delivery, Notification, Robot
from notifications.tasks import deliver, retry_due

from .factories import RobotFactory
from .servers import HANG, dingtalk_verifier, feishu_verifier, webhook_signature_ok

pytestmark = pytest.mark.django_db

SECRET = "SEC0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab"


def _send(
    user, channel, *, subject="资产到期提醒", body="笔记本电脑 IT-2026-000042 已逾期", link=""
):
    """notify() one channel and run the commit callbacks (the eager deliver task)."""
    services.notify(
        event_type="test",
        recipients=[user],
        subject=subject,
        body=body,
        link=link or "/me/assets/",
        channels=[channel],
        dedup_key=f"test:{channel}:{time.monotonic_ns()}",
    )
    return Delivery.objects.filter(recipient=user, channel=channel).latest("id")


@pytest.fixture
def send(django_capture_on_commit_callbacks):
    def _go(*args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            delivery = _send(*args, **kwargs)
        delivery.refresh_from_db()
        return delivery

    return _go


# --- Signatures (pure) --------------------------------------------------------------------------


def test_dingtalk_signature_matches_the_documented_algorithm():
    # given: DingTalk's documented example, computed independently
    import base64
    import hashlib
    import hmac
    import urllib.parse

    timestamp, secret = 1577262236757, "SECtest"
    expected = urllib.parse.quote_plus(
        base64.b64encode(
            hmac.new(b"SECtest", b"1577262236757\nSECtest", hashlib.sha256).digest()
        ).decode()
    )

    # when / then
    assert dingtalk_sign(secret, timestamp) == expected


def test_feishu_and_webhook_signatures():
    import base64
    import hashlib
    import hmac

    assert (
        feishu_sign("k", 1599360473)
        == base64.b64encode(hmac.new(b"1599360473\nk", b"", hashlib.sha256).digest()).decode()
    )
    assert webhook_signature("s", b"{}") == "sha256=" + hmac.new(b"s", b"{}", "sha256").hexdigest()


def test_retry_delays_grow_exponentially():
    assert [services.retry_delay(n) for n in (1, 2, 3, 4)] == [60, 120, 240, 480]


# --- DingTalk -----------------------------------------------------------------------------------


def test_dingtalk_message_is_signed_and_mentions_the_recipient(
    make_user, robot_server, send, site_url
):
    # given
    server = robot_server(default=dingtalk_verifier(SECRET))
    RobotFactory(kind=Channel.DINGTALK, url=server.url, secret=SECRET)
    user = make_user("employee")
    PersonFactory(user=user, name="张三", phone="13800138000", dingtalk_id="ding-zs")

    # when
    delivery = send(user, Channel.DINGTALK)

    # then
    assert delivery.status == Delivery.Status.SENT
    assert delivery.attempts == 1
    assert delivery.last_error == ""
    [request] = server.requests
    assert request.query["access_token"] == "test-token"
    assert request.query["timestamp"].isdigit()
    body = request.json
    assert body["msgtype"] == "markdown"
    assert body["markdown"]["title"] == "资产到期提醒"
    assert "笔记本电脑 IT-2026-000042 已逾期" in body["markdown"]["text"]
    assert f"]({site_url}/me/assets/)" in body["markdown"]["text"]
    assert "@13800138000" in body["markdown"]["text"]
    assert body["at"] == {"atMobiles": ["13800138000"], "atUserIds": ["ding-zs"], "isAtAll": False}


def test_dingtalk_wrong_secret_is_given_up_with_the_reason(make_user, robot_server, send):
    # given: the robot checks another secret than the one configured
    server = robot_server(default=dingtalk_verifier(SECRET))
    RobotFactory(kind=Channel.DINGTALK, url=server.url, secret="SECwrong")
    user = make_user("employee")

    # when
    delivery = send(user, Channel.DINGTALK)

    # then: retrying cannot help
    assert delivery.status == Delivery.Status.GIVEN_UP
    assert delivery.attempts == 1
    assert "errcode 310000" in delivery.last_error
    assert "check the robot's secret" in delivery.last_error
    assert len(server.requests) == 1


def test_dingtalk_rate_limit_is_retried_later_then_given_up(
    make_user, robot_server, send, settings
):
    # given: a robot that always answers "send too fast" (errcode 130101)
    server = robot_server(default=(200, {"errcode": 130101, "errmsg": "send too fast"}))
    RobotFactory(kind=Channel.DINGTALK, url=server.url)
    user = make_user("employee")
    before = timezone.now()

    # when
    delivery = send(user, Channel.DINGTALK)

    # then: failed, retried no sooner than a minute later
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.attempts == 1
    assert "errcode 130101" in delivery.last_error and "rate limited" in delivery.last_error
    assert delivery.next_attempt_at >= before + timedelta(seconds=60)

    # when: the retry sweeper runs at each retry time
    for _ in range(4):
        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        retry_due.delay()

    # then: given up after five attempts in all
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.GIVEN_UP
    assert delivery.attempts == 5
    assert len(server.requests) == 5
    assert delivery.next_attempt_at is None


# --- WeCom, Feishu, webhook ---------------------------------------------------------------------


def test_wecom_markdown_message(make_user, robot_server, send, site_url):
    # given
    server = robot_server(default=(200, {"errcode": 0, "errmsg": "ok"}))
    RobotFactory(kind=Channel.WECOM, url=server.url)
    user = make_user("employee")
    PersonFactory(user=user, name="李四", wecom_id="lisi")

    # when
    delivery = send(user, Channel.WECOM)

    # then
    assert delivery.status == Delivery.Status.SENT
    body = server.requests[0].json
    assert body["msgtype"] == "markdown"
    content = body["markdown"]["content"]
    assert content.startswith("#### 资产到期提醒")
    assert "笔记本电脑 IT-2026-000042 已逾期" in content
    assert f"{site_url}/me/assets/" in content
    assert "<@lisi>" in content


def test_wecom_rate_limit_is_retried(make_user, robot_server, send):
    server = robot_server(default=(200, {"errcode": 45009, "errmsg": "api freq out of limit"}))
    RobotFactory(kind=Channel.WECOM, url=server.url)

    delivery = send(make_user("employee"), Channel.WECOM)

    assert delivery.status == Delivery.Status.FAILED
    assert "errcode 45009" in delivery.last_error


def test_feishu_post_is_signed(make_user, robot_server, send, site_url):
    # given
    server = robot_server(default=feishu_verifier("feishu-secret"))
    RobotFactory(kind=Channel.FEISHU, url=server.url, secret="feishu-secret")
    user = make_user("employee")

    # when
    delivery = send(user, Channel.FEISHU)

    # then
    assert delivery.status == Delivery.Status.SENT
    body = server.requests[0].json
    assert body["msg_type"] == "post"
    assert body["timestamp"].isdigit() and body["sign"]
    post = body["content"]["post"]["zh_cn"]
    assert post["title"] == "资产到期提醒"
    assert post["content"][0] == [{"tag": "text", "text": "笔记本电脑 IT-2026-000042 已逾期"}]
    assert post["content"][-1][0]["href"] == f"{site_url}/me/assets/"


def test_feishu_wrong_secret_is_given_up(make_user, robot_server, send):
    server = robot_server(default=feishu_verifier("right"))
    RobotFactory(kind=Channel.FEISHU, url=server.url, secret="wrong")

    delivery = send(make_user("employee"), Channel.FEISHU)

    assert delivery.status == Delivery.Status.GIVEN_UP
    assert "code 19021" in delivery.last_error


def test_webhook_json_is_signed_in_a_header(make_user, robot_server, send, site_url):
    # given
    server = robot_server(default=(204, {}))
    RobotFactory(kind=Channel.WEBHOOK, url=server.url, secret="hook-secret")
    user = make_user("employee", email="zhang@example.cn")

    # when
    delivery = send(user, Channel.WEBHOOK)

    # then
    assert delivery.status == Delivery.Status.SENT
    [request] = server.requests
    assert webhook_signature_ok(request, "hook-secret")
    assert not webhook_signature_ok(request, "another-secret")
    assert request.headers["x-itassets-event"] == "test"
    assert request.headers["x-itassets-delivery"] == str(delivery.pk)
    body = request.json
    assert body["subject"] == "资产到期提醒"
    assert body["body"] == "笔记本电脑 IT-2026-000042 已逾期"
    assert body["link"] == f"{site_url}/me/assets/"
    assert body["recipient"]["email"] == "zhang@example.cn"


def test_webhook_from_the_environment_when_no_robot_row(make_user, robot_server, send, settings):
    server = robot_server(default=(200, {}))
    settings.NOTIFY_WEBHOOK_URL = server.url
    settings.NOTIFY_WEBHOOK_SECRET = "env-secret"

    delivery = send(make_user("employee"), Channel.WEBHOOK)

    assert delivery.status == Delivery.Status.SENT
    assert delivery.robot_id is None
    assert webhook_signature_ok(server.requests[0], "env-secret")


# --- Failures -----------------------------------------------------------------------------------


def test_server_error_then_success_is_retried(make_user, robot_server, send, settings):
    # given: the first answer is a 500, the next a 200
    settings.NOTIFICATIONS_RETRY_BASE_SECONDS = 0.01
    server = robot_server(replies=[(500, {"error": "internal"})], default=(200, {"errcode": 0}))
    RobotFactory(kind=Channel.DINGTALK, url=server.url)
    user = make_user("employee")

    # when
    delivery = send(user, Channel.DINGTALK)

    # then
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.attempts == 1
    assert delivery.last_error.startswith("HTTP 500 from 127.0.0.1")

    # when: the sweeper runs after the backoff
    time.sleep(0.05)
    retry_due.delay()

    # then
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SENT
    assert delivery.attempts == 2
    assert delivery.last_error == ""
    assert len(server.requests) == 2


def test_hanging_server_times_out_after_five_seconds(make_user, robot_server, send):
    # given
    server = robot_server(default=HANG)
    RobotFactory(kind=Channel.DINGTALK, url=server.url)
    user = make_user("employee")

    # when
    started = time.monotonic()
    delivery = send(user, Channel.DINGTALK)
    elapsed = time.monotonic() - started

    # then
    assert 4.5 <= elapsed < 7.5
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.last_error == "No answer from 127.0.0.1 within 5 s (timed out)"


def test_misconfigured_url_is_given_up(make_user, send):
    # given: saved without the form's validation
    Robot.objects.create(name="坏地址", kind=Channel.DINGTALK, url="htp:/oapi", is_default=True)

    delivery = send(make_user("employee"), Channel.DINGTALK)

    assert delivery.status == Delivery.Status.GIVEN_UP
    assert delivery.last_error.startswith("Invalid webhook URL 'htp:/oapi'")


def test_unreachable_robot_is_retried(make_user, send):
    from .servers import free_port

    RobotFactory(kind=Channel.DINGTALK, url=f"http://127.0.0.1:{free_port()}/robot/send")

    delivery = send(make_user("employee"), Channel.DINGTALK)

    assert delivery.status == Delivery.Status.FAILED
    assert delivery.last_error.startswith("Cannot reach 127.0.0.1:")
    assert "refused" in delivery.last_error.lower()


def test_user_without_email_is_given_up(make_user, send, smtp_server):
    # given: neither the account nor the person record has an address
    user = make_user("employee")
    PersonFactory(user=user, email="")

    delivery = send(user, Channel.EMAIL)

    assert delivery.status == Delivery.Status.GIVEN_UP
    assert "no email address" in delivery.last_error
    assert smtp_server.messages == []


def test_disabled_robot_is_given_up(make_user):
    # given: a delivery planned while the robot was enabled
    robot = RobotFactory(kind=Channel.DINGTALK, enabled=False)
    delivery = Delivery.objects.create(
        recipient=make_user("employee"),
        channel=Channel.DINGTALK,
        robot=robot,
        event_type="test",
        dedup_key="t:disabled",
        payload={"subject": "x"},
    )

    # when
    deliver.delay(delivery.pk)

    # then
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.GIVEN_UP
    assert delivery.last_error == f"Robot “{robot.name}” is disabled"


def test_no_robot_no_robot_delivery(make_user, send):
    # given: nothing configured for WeCom
    user = make_user("employee")

    created = services.notify(
        event_type="test", recipients=[user], subject="x", channels=[Channel.WECOM]
    )

    assert created == 0
    assert not Delivery.objects.filter(recipient=user).exists()


# --- Email --------------------------------------------------------------------------------------


def test_email_in_chinese_with_the_link(make_user, send, smtp_server, site_url):
    # given
    user = make_user("employee", email="zhangsan@example.cn")
    PersonFactory(user=user, name="张三")

    # when
    delivery = send(
        user,
        Channel.EMAIL,
        subject="资产 IT-2026-000042 笔记本电脑 已逾期 3 天",
        body="请尽快归还。借用到期日：2026-03-01",
        link="/me/assets/",
    )

    # then
    assert delivery.status == Delivery.Status.SENT
    [message] = smtp_server.messages
    assert message["To"] == "zhangsan@example.cn"
    # (Python folds a long encoded subject onto the next line: a leading space when parsed)
    assert message["Subject"].strip() == "资产 IT-2026-000042 笔记本电脑 已逾期 3 天"
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    for part in (text, html):
        assert "张三" in part
        assert "请尽快归还。借用到期日：2026-03-01" in part
        assert f"{site_url}/me/assets/" in part
        assert f"{site_url}/notifications/settings/" in part
    assert 'lang="zh-CN"' in html


def test_smtp_server_down_is_retried(make_user, send, settings):
    from .servers import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()

    delivery = send(make_user("employee", email="a@example.cn"), Channel.EMAIL)

    assert delivery.status == Delivery.Status.FAILED
    assert delivery.last_error.startswith("Cannot send mail: ConnectionRefusedError")


# --- Isolation and idempotence ------------------------------------------------------------------


def test_a_failing_robot_does_not_block_email_and_in_app(
    make_user, robot_server, smtp_server, django_capture_on_commit_callbacks
):
    # given: the DingTalk robot answers 500
    server = robot_server(default=(500, {}))
    RobotFactory(kind=Channel.DINGTALK, url=server.url)
    user = make_user("employee", email="a@example.cn")

    # when
    with django_capture_on_commit_callbacks(execute=True):
        services.notify(
            event_type="loan_due",
            recipients=[user],
            subject="逾期提醒",
            dedup_key="loan:1",
            channels=[Channel.DINGTALK, Channel.EMAIL, Channel.IN_APP],
        )

    # then
    status = dict(Delivery.objects.filter(recipient=user).values_list("channel", "status"))
    assert status == {"dingtalk": "failed", "email": "sent", "in_app": "sent"}
    assert len(smtp_server.messages) == 1
    assert Notification.objects.filter(user=user, title="逾期提醒").count() == 1


def test_a_sent_delivery_is_not_sent_again(make_user, robot_server, send):
    server = robot_server()
    RobotFactory(kind=Channel.DINGTALK, url=server.url)
    delivery = send(make_user("employee"), Channel.DINGTALK)

    # when: a duplicate task (acks_late redelivery) runs
    deliver.delay(delivery.pk)

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SENT
    assert delivery.attempts == 1
    assert len(server.requests) == 1


@pytest.mark.django_db(transaction=True)
def test_two_tasks_on_one_delivery_at_once_send_it_once(make_user, robot_server):
    # given: a robot slow enough for the second task to arrive during the first send
    def slow(_request):
        time.sleep(1)
        return (200, {"errcode": 0})

    server = robot_server(default=slow)
    RobotFactory(kind=Channel.DINGTALK, url=server.url)
    user = make_user("employee")
    delivery = Delivery.objects.create(
        recipient=user,
        channel=Channel.DINGTALK,
        event_type="test",
        dedup_key="t:1",
        payload={"subject": "并发"},
        robot=Robot.objects.get(),
    )

    # when
    results = []

    def run():
        from django.db import connection

        try:
            results.append(services.delivery_send(delivery_id=delivery.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
        time.sleep(0.2)
    for thread in threads:
        thread.join()

    # then
    assert sorted(results) == ["busy", "sent"]
    assert len(server.requests) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (Delivery.Status.SENT, 1)
