"""The notification centre, the header badge, the preferences page, the admin and the test
command."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from notifications.models import (
    Channel,
    Delivery,
    Heartbeat,
    Notification,
    NotificationPreference,
    Robot,
)
from notifications.selectors import SCHEDULER_CACHE_KEY, unread_cache_key

from .factories import DeliveryFactory, NotificationFactory, RobotFactory
from .servers import dingtalk_verifier

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()


@pytest.fixture
def me(client_as):
    return client_as("employee")


def _notes(user, n, **kwargs):
    now = timezone.now()
    return [
        NotificationFactory(user=user, created_at=now - timedelta(minutes=i), **kwargs)
        for i in range(n)
    ]


# --- Notification centre ------------------------------------------------------------------------


def test_the_centre_lists_my_notifications_newest_first(me, make_user):
    # given
    newest, older = _notes(me.user, 2)
    NotificationFactory(user=make_user("employee"), title="别人的通知")

    # when
    response = me.get("/notifications/")

    # then
    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" in body
    assert body.index(newest.title) < body.index(older.title)
    assert "别人的通知" not in body
    assert body.count('data-testid="notification"') == 2


def test_an_htmx_get_is_the_list_fragment_and_can_filter_unread(me):
    unread, read = _notes(me.user, 2)
    Notification.objects.filter(pk=read.pk).update(read_at=timezone.now())

    response = me.get("/notifications/?unread=1", **HTMX)

    body = response.content.decode()
    assert "<html" not in body
    assert body.strip().startswith('<section id="notification-list"')
    assert unread.title in body and read.title not in body


def test_marking_one_read_by_htmx_returns_the_row_and_tells_the_badge(me):
    [note] = _notes(me.user, 1)
    me.get("/notifications/badge/")  # cache the count

    response = me.post(f"/notifications/{note.pk}/read/", **HTMX)

    assert response.status_code == 200
    assert response["HX-Trigger"] == "notificationsChanged"
    assert response.content.decode().strip().startswith(f'<li id="notification-{note.pk}"')
    note.refresh_from_db()
    assert note.read_at is not None
    assert b'data-testid="unread-count"' not in me.get("/notifications/badge/").content


def test_someone_elses_notification_is_404_and_stays_unread(me, make_user):
    other = NotificationFactory(user=make_user("employee"))

    response = me.post(f"/notifications/{other.pk}/read/")

    assert response.status_code == 404
    other.refresh_from_db()
    assert other.read_at is None


def test_mark_all_read(me):
    _notes(me.user, 3)

    response = me.post("/notifications/read-all/")

    assert response.status_code == 302
    assert not Notification.objects.filter(user=me.user, read_at=None).exists()


def test_mark_all_read_by_htmx_returns_the_list(me):
    _notes(me.user, 3)

    response = me.post("/notifications/read-all/", **HTMX)

    assert response["HX-Trigger"] == "notificationsChanged"
    assert 'data-testid="list-unread-count">0<' in response.content.decode()


def test_opening_marks_read_and_follows_only_local_links(me):
    local = NotificationFactory(user=me.user, link="/me/assets/")
    foreign = NotificationFactory(user=me.user, link="https://evil.example.com/")

    assert me.post(f"/notifications/{local.pk}/open/")["Location"] == "/me/assets/"
    assert me.post(f"/notifications/{foreign.pk}/open/")["Location"] == "/notifications/"
    assert Notification.objects.filter(user=me.user, read_at=None).count() == 0


def test_get_does_not_change_anything(me):
    [note] = _notes(me.user, 1)

    assert me.get(f"/notifications/{note.pk}/read/").status_code == 405
    note.refresh_from_db()
    assert note.read_at is None


def test_anonymous_users_are_sent_to_login(client):
    response = client.get("/notifications/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_list_queries_do_not_grow_with_rows(me):
    _notes(me.user, 2)
    me.get("/notifications/")
    with CaptureQueriesContext(connection) as few:
        me.get("/notifications/")
    _notes(me.user, 25)
    cache.delete(unread_cache_key(me.user.pk))
    me.get("/notifications/")
    with CaptureQueriesContext(connection) as many:
        me.get("/notifications/")

    assert len(many) == len(few)


# --- Badge --------------------------------------------------------------------------------------


def test_the_header_badge_loads_itself_then_shows_the_cached_count(me):
    _notes(me.user, 2)

    # when: nothing cached: the page costs no count query, the badge loads at once
    with CaptureQueriesContext(connection) as queries:
        body = me.get("/").content.decode()
    assert not [q for q in queries if "notifications_notification" in q["sql"]]
    assert 'data-testid="notification-badge"' in body
    assert 'hx-trigger="load, every 30s' in body
    assert 'data-testid="unread-count"' not in body

    # when: the badge answered (and cached the count): pages show it, polled every 30 s
    assert 'data-testid="unread-count">2<' in me.get("/notifications/badge/").content.decode()
    body = me.get("/").content.decode()
    assert 'hx-trigger="every 30s' in body
    assert 'data-testid="unread-count">2<' in body


def test_the_badge_is_one_cheap_count_then_cached(me):
    _notes(me.user, 3)
    me.get("/notifications/badge/")  # session and user loaded once

    cache.delete(unread_cache_key(me.user.pk))
    with CaptureQueriesContext(connection) as first:
        response = me.get("/notifications/badge/")
    with CaptureQueriesContext(connection) as second:
        me.get("/notifications/badge/")

    counts = [q["sql"] for q in first if "notifications_notification" in q["sql"]]
    assert len(counts) == 1
    assert "COUNT(*)" in counts[0] and "`read_at` IS NULL" in counts[0]
    assert not [q for q in second if "notifications_notification" in q["sql"]]
    assert 'data-testid="unread-count">3<' in response.content.decode()


def test_a_new_notification_clears_the_cached_count(me, django_capture_on_commit_callbacks):
    from notifications import services

    me.get("/notifications/badge/")
    with django_capture_on_commit_callbacks(execute=True):
        services.notify(
            event_type="test", recipients=[me.user], subject="新消息", channels=[Channel.IN_APP]
        )

    assert 'data-testid="unread-count">1<' in me.get("/notifications/badge/").content.decode()


# --- Preferences --------------------------------------------------------------------------------


def test_the_settings_page_shows_event_types_and_configured_channels_only(me):
    body = me.get("/notifications/settings/").content.decode()

    assert 'data-event="loan_due"' in body
    assert 'data-event="asset_assigned"' in body
    assert 'name="loan_due__email" class="form-check-input" id="id_loan_due__email" checked' in body
    assert "loan_due__dingtalk" not in body  # no DingTalk robot configured

    RobotFactory(kind=Channel.DINGTALK)
    assert "loan_due__dingtalk" in me.get("/notifications/settings/").content.decode()


def test_saving_settings_stores_each_choice(me):
    # given: every box of the form as shown, but email for loan reminders unticked
    response = me.get("/notifications/settings/")
    form = response.context["form"]
    data = {name: "on" for name, field in form.fields.items() if form[name].initial}
    data.pop("loan_due__email")

    # when
    response = me.post("/notifications/settings/", data)

    # then
    assert response.status_code == 302
    assert (
        NotificationPreference.objects.get(
            user=me.user, event_type="loan_due", channel="email"
        ).enabled
        is False
    )
    assert (
        NotificationPreference.objects.get(
            user=me.user, event_type="loan_due", channel="in_app"
        ).enabled
        is True
    )
    body = me.get("/notifications/settings/").content.decode()
    assert 'id="id_loan_due__email" checked' not in body


def test_saving_settings_by_htmx_returns_the_form(me):
    response = me.post("/notifications/settings/", {"loan_due__in_app": "on"}, **HTMX)

    body = response.content.decode()
    assert body.strip().startswith('<form id="preferences-form"')
    assert "alert-success" in body


def test_the_weekly_digest_defaults_to_email_for_clerks_only(client_as):
    clerk = client_as("clerk")
    form = clerk.get("/notifications/settings/").context["form"]
    assert form["weekly_digest__email"].initial is True
    assert form["weekly_digest__in_app"].initial is False


# --- Admin --------------------------------------------------------------------------------------


@pytest.fixture
def admin(client_as):
    return client_as("admin")


def test_admin_pages_render(admin, make_user):
    robot = RobotFactory()
    delivery = DeliveryFactory(
        recipient=make_user("employee"), failed=True, payload={"subject": "到期", "body": "正文"}
    )
    Heartbeat.objects.create(name="beat", last_seen=timezone.now())

    for url in (
        "/admin/notifications/reminderrule/",
        "/admin/notifications/reminderrule/add/",
        "/admin/notifications/robot/",
        "/admin/notifications/robot/add/",
        f"/admin/notifications/robot/{robot.pk}/change/",
        "/admin/notifications/delivery/",
        "/admin/notifications/delivery/?status__exact=failed&channel__exact=in_app",
        f"/admin/notifications/delivery/{delivery.pk}/change/",
        "/admin/notifications/heartbeat/",
        "/admin/django_celery_beat/periodictask/",
    ):
        assert admin.get(url).status_code == 200, url
    detail = admin.get(f"/admin/notifications/delivery/{delivery.pk}/change/").content.decode()
    assert "&quot;subject&quot;: &quot;到期&quot;" in detail or '"subject": "到期"' in detail


def test_the_robot_form_picks_a_department_and_keeps_the_secret(admin, make_user):
    from assets.tests.factories import DepartmentFactory

    dept = DepartmentFactory(name="研发中心")
    robot = RobotFactory(
        secret="SECold", is_default=False, department_id=dept.pk, department_name="研发中心"
    )

    response = admin.post(
        f"/admin/notifications/robot/{robot.pk}/change/",
        {
            "name": "研发群",
            "kind": "dingtalk",
            "url": "https://oapi.dingtalk.com/robot/send?access_token=abc",
            "department": str(dept.pk),
            "enabled": "on",
            "secret": "",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    robot.refresh_from_db()
    assert (robot.name, robot.secret, robot.department_id, robot.department_name) == (
        "研发群",
        "SECold",
        dept.pk,
        "研发中心",
    )


def test_a_second_default_robot_of_a_kind_is_refused(admin):
    RobotFactory(kind=Channel.DINGTALK)

    response = admin.post(
        "/admin/notifications/robot/add/",
        {
            "name": "第二个",
            "kind": "dingtalk",
            "url": "https://x.example.com/",
            "is_default": "on",
            "enabled": "on",
        },
    )

    assert response.status_code == 200
    assert Robot.objects.count() == 1


def test_the_resend_action_queues_a_given_up_delivery(
    admin, make_user, django_capture_on_commit_callbacks
):
    user = make_user("employee")
    delivery = DeliveryFactory(recipient=user, given_up=True, channel=Channel.IN_APP)

    with django_capture_on_commit_callbacks(execute=True):
        admin.post(
            "/admin/notifications/delivery/",
            {"action": "resend", "_selected_action": [delivery.pk]},
        )

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SENT  # eager: sent at once
    assert Notification.objects.filter(user=user).count() == 1


def test_clerks_read_deliveries_but_do_not_edit_robots(client_as):
    clerk = client_as("clerk")

    assert clerk.get("/admin/notifications/delivery/").status_code == 200
    assert clerk.get("/admin/notifications/robot/add/").status_code == 403


def test_employees_have_no_admin(client_as):
    assert client_as("employee").get("/admin/notifications/delivery/").status_code == 403


# --- Scheduler banner ---------------------------------------------------------------------------


def test_the_banner_shows_administrators_a_silent_scheduler(admin, client_as, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    Heartbeat.objects.create(name="beat", last_seen=timezone.now() - timedelta(hours=3))
    Heartbeat.objects.create(name="worker", last_seen=timezone.now())
    cache.delete(SCHEDULER_CACHE_KEY)

    body = admin.get("/").content.decode()

    assert 'data-testid="scheduler-banner"' in body
    assert "2 h" in body
    assert 'data-testid="scheduler-banner"' not in client_as("employee").get("/").content.decode()


def test_no_banner_when_both_are_alive_or_tasks_run_eagerly(admin, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    Heartbeat.objects.create(name="beat", last_seen=timezone.now() - timedelta(minutes=30))
    Heartbeat.objects.create(name="worker", last_seen=timezone.now() - timedelta(minutes=5))
    cache.delete(SCHEDULER_CACHE_KEY)
    assert 'data-testid="scheduler-banner"' not in admin.get("/").content.decode()

    settings.CELERY_TASK_ALWAYS_EAGER = True
    Heartbeat.objects.all().delete()
    cache.delete(SCHEDULER_CACHE_KEY)
    assert 'data-testid="scheduler-banner"' not in admin.get("/").content.decode()


def test_ready_warns_but_stays_ready(client, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = "memory://"
    Heartbeat.objects.create(name="beat", last_seen=timezone.now())

    response = client.get("/ready")

    assert response.status_code == 200
    assert response.json()["warnings"] == ["no worker: never seen (expected at least every 10 min)"]


# --- Test command -------------------------------------------------------------------------------


def test_send_test_notification_command_reaches_the_robot(make_user, robot_server, capsys):
    server = robot_server(default=dingtalk_verifier("SECcmd"))
    RobotFactory(kind=Channel.DINGTALK, url=server.url, secret="SECcmd")
    make_user("employee", username="zhangsan")

    call_command("send_test_notification", "--channel", "dingtalk", "--to", "zhangsan")

    assert "dingtalk to zhangsan: sent" in capsys.readouterr().out
    assert len(server.requests) == 1


def test_send_test_notification_command_reports_the_reason(make_user):
    make_user("employee", username="zhangsan")
    RobotFactory(kind=Channel.DINGTALK, url="htp:/bad")

    with pytest.raises(CommandError, match="given_up: Invalid webhook URL"):
        call_command("send_test_notification", "--channel", "dingtalk", "--to", "zhangsan")
    with pytest.raises(CommandError, match="No user named 'nobody'"):
        call_command("send_test_notification", "--channel", "email", "--to", "nobody")
    with pytest.raises(CommandError, match="No wecom robot is configured"):
        call_command("send_test_notification", "--channel", "wecom", "--to", "zhangsan")


# --- Architecture -------------------------------------------------------------------------------


def test_notifications_imports_no_domain_app():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    offenders = []
    for path in root.rglob("*.py"):
        if "tests" in path.relative_to(root).parts:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.match(r"\s*(from|import)\s+(assets|inventory)\b", line):
                offenders.append(f"{path.relative_to(root)}:{number}: {line.strip()}")
    assert offenders == []
