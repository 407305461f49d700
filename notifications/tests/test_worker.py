"""Real Celery: a worker subprocess on Redis and the test database (and, for the end-to-end
test, a real ``celery beat`` with the database scheduler). An overdue loan ends as one email
(local SMTP server), one DingTalk message (local robot) and one in-app notification, once,
however often the scan runs; when beat stops, administrators see the banner."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.cache import cache
from django.db.models import Count
from django.utils import timezone

from assets.lifecycle import Status
from assets.tests.org import make_org
from itassets.testing.fixtures import REPO_DIR, _die_with_parent, _kill, _test_database_url
from notifications.defaults import install_rules
from notifications.models import Channel, Delivery, Heartbeat, Notification, ReminderRule
from notifications.selectors import SCHEDULER_CACHE_KEY
from notifications.tasks import reminder_scan

from .factories import RobotFactory
from .servers import dingtalk_verifier, wait_for

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]

SECRET = "SECe2e0123456789abcdef"
SITE = "https://itassets.example.cn"


@pytest.fixture
def worker_env(monkeypatch, smtp_server):
    """What the worker process reads from its environment: the SMTP server and the site."""
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", str(smtp_server.port))
    monkeypatch.setenv("SITE_URL", SITE)
    return smtp_server


@pytest.fixture
def worker(worker_env, celery_worker):
    """A real worker started after ``worker_env`` (fixtures resolve in this order)."""
    return celery_worker


@pytest.fixture
def org(make_user):
    install_rules(ReminderRule)
    ReminderRule.objects.filter(kind="weekly_digest").update(enabled=False)
    return make_org(make_user)


def _overdue_loan(org, days=1):
    return org.asset(
        status=Status.ON_LOAN,
        holder=org.employee_person,
        department=org.rd,
        due_date=timezone.localdate() - timedelta(days=days),
    )


def _settled() -> bool:
    return not Delivery.objects.filter(status=Delivery.Status.QUEUED).exists()


def test_the_worker_runs_the_reminder_scan_and_sends(worker, org):
    # given
    _overdue_loan(org)

    # when
    result = reminder_scan.delay().get(timeout=60)

    # then: in-app and email for the holder, sent by the worker
    assert result["created"] == 2
    assert wait_for(_settled, timeout=30), worker.log()
    assert Notification.objects.filter(user=org.employee).count() == 1
    email = Delivery.objects.get(channel=Channel.EMAIL)
    assert email.status == Delivery.Status.GIVEN_UP  # 张三 has no address: the reason is kept
    assert "no email address" in email.last_error


def test_two_scans_at_once_on_the_worker_create_each_delivery_once(worker, org):
    # given: 30 overdue loans, 30 warranties ending
    for i in range(30):
        _overdue_loan(org, days=1 + i % 5)
        org.asset(warranty_end=timezone.localdate() + timedelta(days=i % 30))

    # when: two scans run at the same time on the worker's two threads
    first, second = reminder_scan.delay(), reminder_scan.delay()
    results = [first.get(timeout=120), second.get(timeout=120)]

    # then
    total = Delivery.objects.count()
    assert total == 30 * 2 + 30 * 2 * 2
    assert sum(r["created"] for r in results) == total
    assert (
        not Delivery.objects.values("dedup_key", "recipient_id", "channel")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    assert wait_for(_settled, timeout=60), worker.log()
    in_app = Delivery.objects.filter(channel=Channel.IN_APP).count()
    assert Notification.objects.count() == in_app == 30 + 30 * 2


def test_overdue_loan_end_to_end_once(worker, org, robot_server, smtp_server):
    # given: 张三 has an email address and a phone; a DingTalk robot with a signing secret
    robot = robot_server(default=dingtalk_verifier(SECRET))
    RobotFactory(kind=Channel.DINGTALK, url=robot.url, secret=SECRET)
    org.employee.email = "zhangsan@example.cn"
    org.employee.save()
    org.employee_person.phone = "13800138000"
    org.employee_person.save()
    asset = _overdue_loan(org, days=2)

    # when
    reminder_scan.delay().get(timeout=60)

    # then
    assert wait_for(_settled, timeout=30), worker.log()
    assert dict(Delivery.objects.values_list("channel", "status")) == {
        "dingtalk": "sent",
        "email": "sent",
        "in_app": "sent",
    }

    # when: the scan runs twice more
    reminder_scan.delay().get(timeout=60)
    reminder_scan.delay().get(timeout=60)

    # then: nothing more
    assert Delivery.objects.count() == 3
    assert len(smtp_server.messages) == 1
    assert smtp_server.messages[0]["To"] == "zhangsan@example.cn"
    assert asset.tag in smtp_server.messages[0]["Subject"]
    text = smtp_server.messages[0].get_body(preferencelist=("plain",)).get_content()
    assert f"{SITE}/me/assets/" in text
    assert len(robot.requests) == 1
    assert "@13800138000" in robot.requests[0].json["markdown"]["text"]
    assert asset.tag in robot.requests[0].json["markdown"]["title"]
    assert Notification.objects.filter(user=org.employee).count() == 1


# --- With beat ----------------------------------------------------------------------------------


def _start_beat(root: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": _test_database_url(),
        "DJANGO_SETTINGS_MODULE": "itassets.settings",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "PYTHONUNBUFFERED": "1",
    }
    celery = str(Path(sys.executable).parent / "celery")
    command = [
        celery,
        "-A",
        "itassets",
        "beat",
        "--scheduler",
        "django_celery_beat.schedulers:DatabaseScheduler",
        "--loglevel=info",
        f"--schedule={root / 'beat-schedule'}",
        "--max-interval=1",
    ]
    log = (root / "beat.log").open("wb")
    return subprocess.Popen(
        _die_with_parent(command),
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        cwd=REPO_DIR,
        env=env,
        start_new_session=True,
    )


def _schedule(queue: str) -> None:
    """The default schedule, made fast for the test and routed to the test worker's queue."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every_second, _ = IntervalSchedule.objects.get_or_create(every=1, period="seconds")
    every_two, _ = IntervalSchedule.objects.get_or_create(every=2, period="seconds")
    PeriodicTask.objects.create(
        name="test: heartbeat", task="notifications.beat_tick", interval=every_second, queue=queue
    )
    PeriodicTask.objects.create(
        name="test: reminder scan",
        task="notifications.reminder_scan",
        interval=every_two,
        queue=queue,
    )
    PeriodicTask.objects.create(
        name="test: retry sweeper", task="notifications.retry_due", interval=every_two, queue=queue
    )


def test_beat_and_worker_send_once_and_the_banner_appears_when_beat_stops(
    worker, org, robot_server, smtp_server, client, make_user, settings
):
    # given: an overdue loan, the DingTalk robot, an administrator watching the site
    robot = robot_server(default=dingtalk_verifier(SECRET))
    RobotFactory(kind=Channel.DINGTALK, url=robot.url, secret=SECRET)
    org.employee.email = "zhangsan@example.cn"
    org.employee.save()
    _overdue_loan(org)
    _schedule(worker.queue)
    settings.CELERY_TASK_ALWAYS_EAGER = False  # the banner is off when tasks run eagerly
    settings.NOTIFICATIONS_BEAT_SILENT_SECONDS = 3
    client.force_login(make_user("admin"))
    root = Path(tempfile.mkdtemp(prefix="itassets-beat-"))
    beat = _start_beat(root)
    try:
        # when: beat runs the schedule
        def beat_log():
            return (root / "beat.log").read_text(errors="replace")[-3000:] + worker.log()

        assert wait_for(lambda: Delivery.objects.count() == 3 and _settled(), timeout=60), (
            beat_log()
        )
        runs = Heartbeat.objects.get(name=Heartbeat.BEAT).runs
        # ... and keeps scanning for a while (a few more scans)
        assert wait_for(
            lambda: Heartbeat.objects.get(name=Heartbeat.BEAT).runs >= runs + 5, timeout=30
        ), beat_log()

        # then: one of each, once
        assert dict(Delivery.objects.values_list("channel", "status")) == {
            "dingtalk": "sent",
            "email": "sent",
            "in_app": "sent",
        }
        assert len(robot.requests) == 1
        assert len(smtp_server.messages) == 1
        assert Notification.objects.count() == 1
        cache.delete(SCHEDULER_CACHE_KEY)
        assert b'data-testid="scheduler-banner"' not in client.get("/").content
    finally:
        _kill(beat)

    # when: beat has stopped for longer than the threshold
    assert wait_for(
        lambda: (
            timezone.now() - Heartbeat.objects.get(name=Heartbeat.BEAT).last_seen
            > timedelta(seconds=3.5)
        ),
        timeout=15,
    )
    cache.delete(SCHEDULER_CACHE_KEY)
    page = client.get("/")

    # then
    assert b'data-testid="scheduler-banner"' in page.content
    ready = client.get("/ready").json()
    assert any(w.startswith("scheduler (celery beat) silent") for w in ready["warnings"])
