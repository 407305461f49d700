"""Reminder rules over asset data (assets/reminders.py) through the scan: who gets what, once
per occurrence, whatever runs twice or at the same time."""

import threading
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from assets.lifecycle import Status
from assets.models import ApprovalStep, Handover
from assets.tests.factories import ApprovalRequestFactory
from assets.tests.org import make_org
from notifications import registry, services
from notifications.models import Channel, Delivery, NotificationPreference, ReminderRule

from .factories import RobotFactory

pytestmark = pytest.mark.django_db

# A Wednesday morning in Beijing.
NOW = timezone.make_aware(datetime(2026, 3, 4, 10, 0))
TODAY = NOW.date()


@pytest.fixture
def org(make_user, default_rules):
    # The digest (due any time after Monday 08:00) is tested on its own.
    ReminderRule.objects.filter(kind="weekly_digest").update(enabled=False)
    return make_org(make_user)


def scan(now=NOW, **kwargs):
    return services.reminder_scan(now=now, dispatch=False, **kwargs)


def rows(kind):
    return sorted(
        Delivery.objects.filter(rule__kind=kind).values_list("dedup_key", "recipient_id", "channel")
    )


# --- Warranty -----------------------------------------------------------------------------------


def test_warranty_reminder_goes_to_clerks_once_per_lead_time(org):
    # given
    asset = org.asset(warranty_end=TODAY + timedelta(days=30))
    org.asset(warranty_end=TODAY + timedelta(days=55))  # not yet
    org.asset(warranty_end=TODAY + timedelta(days=3), status=Status.DISPOSED)  # gone
    key30 = f"warranty_ending:assets.asset:{asset.pk}:2026-04-03:lead-30"
    key7 = f"warranty_ending:assets.asset:{asset.pk}:2026-04-03:lead-7"
    clerks = sorted([org.clerk.pk, org.clerk2.pk])

    # when
    first = scan()

    # then: both clerks, in-app and email (their defaults)
    assert first.created == 4
    assert rows("warranty_ending") == [
        (key30, clerk, channel) for clerk in clerks for channel in ("email", "in_app")
    ]
    delivery = Delivery.objects.filter(dedup_key=key30).first()
    assert delivery.payload["link"] == f"/assets/{asset.tag}/"
    assert delivery.payload["context"]["days_left"] == 30

    # when: the scan runs again the same day and the next day
    assert scan().created == 0
    assert scan(NOW + timedelta(days=1)).created == 0

    # when: 7 days are left
    assert scan(NOW + timedelta(days=23)).created == 4
    assert scan(NOW + timedelta(days=24)).created == 0

    # then
    assert {k for k, _r, _c in rows("warranty_ending")} == {key30, key7}


def test_warranty_inside_the_short_lead_time_sends_only_the_urgent_reminder(org):
    asset = org.asset(warranty_end=TODAY + timedelta(days=5))

    scan()

    assert {k for k, _r, _c in rows("warranty_ending")} == {
        f"warranty_ending:assets.asset:{asset.pk}:2026-03-09:lead-7"
    }


def test_extended_warranty_is_reminded_again(org):
    asset = org.asset(warranty_end=TODAY + timedelta(days=7))
    scan()
    type(asset).objects.filter(pk=asset.pk).update(warranty_end=TODAY + timedelta(days=20))

    assert scan().created == 4


# --- Loans --------------------------------------------------------------------------------------


def _loan(org, due):
    return org.asset(
        status=Status.ON_LOAN, holder=org.employee_person, department=org.rd, due_date=due
    )


def test_loan_due_then_overdue_rounds_then_the_head_in_copy(org):
    # given: lent to 张三 (研发中心, head 王主任), due in 3 days
    due = TODAY + timedelta(days=3)
    asset = _loan(org, due)
    prefix = f"loan_due:assets.asset:{asset.pk}:{due.isoformat()}:p{org.employee_person.pk}"

    def recipients_of(suffix):
        return set(
            Delivery.objects.filter(dedup_key=f"{prefix}:{suffix}").values_list(
                "recipient_id", flat=True
            )
        )

    # when / then: one reminder before the due date
    scan()
    assert recipients_of("due-3") == {org.employee.pk}
    assert scan(NOW + timedelta(days=2)).created == 0

    # overdue: a round every 3 days, to the holder
    day = NOW + timedelta(days=3)
    assert scan(day + timedelta(days=1)).created > 0
    assert recipients_of("overdue-1") == {org.employee.pk}
    assert scan(day + timedelta(days=3)).created == 0
    scan(day + timedelta(days=4))
    assert recipients_of("overdue-2") == {org.employee.pk}

    # after the second overdue reminder, the department head gets a copy
    scan(day + timedelta(days=7))
    assert recipients_of("overdue-3") == {org.employee.pk}
    assert recipients_of("overdue-3:cc") == {org.head.pk}
    copy = Delivery.objects.filter(dedup_key=f"{prefix}:overdue-3:cc").first()
    assert asset.tag in copy.payload["subject"] and "张三" in copy.payload["subject"]
    assert copy.payload["context"] == {
        "tag": asset.tag,
        "due_date": due.isoformat(),
        "holder": "张三",
        "days_overdue": 7,
        "round": 3,
    }
    assert scan(day + timedelta(days=8)).created == 0


def test_returned_loan_is_not_reminded(org):
    asset = _loan(org, TODAY - timedelta(days=2))
    type(asset).objects.filter(pk=asset.pk).update(status=Status.IN_STOCK, holder=None)

    assert scan().created == 0


def test_the_same_asset_lent_again_with_the_same_due_date_is_reminded_again(org):
    # given: lent to 张三 and reminded
    due = TODAY + timedelta(days=3)
    asset = _loan(org, due)
    scan()
    first = set(Delivery.objects.filter(rule__kind="loan_due").values_list("recipient_id"))

    # when: returned and lent to 钱七 with the same due date
    qian = make_org_person_in_sales(org)
    type(asset).objects.filter(pk=asset.pk).update(holder=qian)
    created = scan().created

    # then: 钱七 gets the reminder too (the key names the holder)
    assert first == {(org.employee.pk,)}
    assert created > 0
    assert Delivery.objects.filter(rule__kind="loan_due", recipient=qian.user).exists()


def test_user_preferences_choose_the_channels(org):
    # given: 张三 turned email off and the (configured) DingTalk robot on for loan reminders
    RobotFactory(kind=Channel.DINGTALK)
    NotificationPreference.objects.create(
        user=org.employee, event_type="loan_due", channel="email", enabled=False
    )
    _loan(org, TODAY - timedelta(days=1))

    scan()

    assert {c for _k, _r, c in rows("loan_due")} == {"in_app", "dingtalk"}


def test_rule_channels_limit_every_recipient(org, default_rules):
    rule = default_rules["loan_due"]
    rule.channels = ["in_app"]
    rule.save()
    _loan(org, TODAY - timedelta(days=1))

    scan()

    assert {c for _k, _r, c in rows("loan_due")} == {"in_app"}


def test_department_robot_posts_for_its_people_and_sub_departments(org):
    # given: a robot for 研发中心 and a default one; 赵六 is in 测试部 (under 研发中心)
    rd_robot = RobotFactory(
        kind=Channel.DINGTALK, is_default=False, department_id=org.rd.pk, department_name="研发中心"
    )
    default = RobotFactory(kind=Channel.DINGTALK)
    org.asset(status=Status.ON_LOAN, holder=org.tester_person, due_date=TODAY - timedelta(days=1))
    other = make_org_person_in_sales(org)
    org.asset(status=Status.ON_LOAN, holder=other, due_date=TODAY - timedelta(days=1))

    scan()

    robots = dict(
        Delivery.objects.filter(channel="dingtalk").values_list("recipient_id", "robot_id")
    )
    assert robots == {org.tester.pk: rd_robot.pk, other.user_id: default.pk}


def make_org_person_in_sales(org):
    from django.contrib.auth import get_user_model

    from assets.tests.factories import PersonFactory

    user = get_user_model().objects.create_user(username="sales1")
    return PersonFactory(user=user, department=org.sales, name="钱七")


# --- Handovers and approvals --------------------------------------------------------------------


def _handover(org, *, age_days, accepted=False):
    return Handover.objects.create(
        number=f"JJ-TEST-{age_days}",
        transition="assign",
        to_person=org.employee_person,
        created_at=NOW - timedelta(days=age_days),
        needs_acceptance=True,
        accepted_at=NOW if accepted else None,
    )


def test_unconfirmed_assignment_is_reminded_after_three_days(org):
    late = _handover(org, age_days=4)
    _handover(org, age_days=2)  # not yet
    Handover.objects.filter(pk=_handover(org, age_days=5, accepted=True).pk)  # confirmed

    scan()
    assert scan().created == 0

    assert rows("assignment_unconfirmed") == [
        (f"assignment_unconfirmed:assets.handover:{late.pk}:after-3d", org.employee.pk, c)
        for c in ("email", "in_app")
    ]


def test_approval_pending_for_a_day_reminds_the_approver(org):
    # given: a step named to 王主任, requested 25 hours ago; another 23 hours ago
    old = ApprovalRequestFactory(
        asset=org.asset(), requested_at=NOW - timedelta(hours=25), requested_by=org.clerk
    )
    ApprovalStep.objects.create(request=old, number=1, role="dept_head", approver=org.head)
    young = ApprovalRequestFactory(asset=org.asset(), requested_at=NOW - timedelta(hours=23))
    ApprovalStep.objects.create(request=young, number=1, role="dept_head", approver=org.head)

    scan()

    assert {(k, r) for k, r, _c in rows("approval_pending")} == {
        (f"approval_pending:assets.approvalrequest:{old.pk}:step-1:after-24h", org.head.pk)
    }


def test_second_step_waits_from_the_first_decision(org):
    # given: step 1 decided 2 hours ago; step 2 (clerks) open
    approval = ApprovalRequestFactory(
        asset=org.asset(), requested_at=NOW - timedelta(days=3), current_step=2
    )
    ApprovalStep.objects.create(
        request=approval,
        number=1,
        role="dept_head",
        approver=org.head,
        decision="approved",
        decided_at=NOW - timedelta(hours=2),
    )
    ApprovalStep.objects.create(request=approval, number=2, role="clerk")

    assert scan().created == 0
    assert scan(NOW + timedelta(hours=23)).created == 4  # two clerks × in-app, email


# --- Weekly digest ------------------------------------------------------------------------------


def test_weekly_digest_once_a_week_from_monday_eight(org):
    ReminderRule.objects.filter(kind="weekly_digest").update(enabled=True)
    org.asset(status=Status.IN_USE)
    monday = timezone.make_aware(datetime(2026, 3, 9, 7, 59))

    assert scan(monday, kinds=["weekly_digest"]).created == 0
    assert scan(monday + timedelta(minutes=1), kinds=["weekly_digest"]).created == 2
    assert scan(monday + timedelta(days=2), kinds=["weekly_digest"]).created == 0
    assert scan(monday + timedelta(days=7, minutes=1), kinds=["weekly_digest"]).created == 2

    # then: email only (the clerks' default), with counts
    delivery = Delivery.objects.filter(rule__kind="weekly_digest").first()
    assert delivery.channel == Channel.EMAIL
    assert {line["count"] for line in delivery.payload["context"]["digest"]} >= {1}


# --- The scan itself ----------------------------------------------------------------------------


def test_a_failing_rule_does_not_stop_the_others(org):
    def broken(rule, now):
        raise RuntimeError("boom")
        yield  # pragma: no cover

    registry.register_reminder("broken", broken, label="broken", defaults={"*": ["in_app"]})
    ReminderRule.objects.create(kind="broken")
    _loan(org, TODAY - timedelta(days=1))
    try:
        result = scan()
    finally:
        registry._reminders.pop("broken")
        registry._event_types.pop("broken")

    assert result.failed == ["broken"]
    assert rows("loan_due")


def test_a_rule_nobody_registered_is_skipped(org):
    ReminderRule.objects.create(kind="low_stock")  # inventory registers it later

    result = scan()

    assert result.skipped == ["low_stock"]


def test_a_disabled_rule_sends_nothing(org, default_rules):
    ReminderRule.objects.filter(kind="loan_due").update(enabled=False)
    _loan(org, TODAY - timedelta(days=1))

    assert "loan_due" not in scan().rules
    assert rows("loan_due") == []


def test_scan_enqueues_each_new_delivery_once(org, django_capture_on_commit_callbacks):
    org.employee.email = "zhangsan@example.cn"
    org.employee.save()
    _loan(org, TODAY - timedelta(days=1))

    with django_capture_on_commit_callbacks(execute=True):
        services.reminder_scan(now=NOW)
    with django_capture_on_commit_callbacks(execute=True) as second:
        services.reminder_scan(now=NOW)

    assert set(Delivery.objects.values_list("status", flat=True)) == {"sent"}
    assert second == []


@pytest.mark.django_db(transaction=True)
def test_two_scans_at_once_create_each_delivery_once(make_user):
    # given: 40 overdue loans and 40 warranties ending, the default rules
    from notifications.defaults import install_rules

    install_rules(ReminderRule)
    ReminderRule.objects.filter(kind="weekly_digest").update(enabled=False)
    org = make_org(make_user)
    for i in range(40):
        _loan(org, TODAY - timedelta(days=1 + i % 10))
        org.asset(warranty_end=TODAY + timedelta(days=i % 30))
    barrier = threading.Barrier(2)
    results = []

    def run():
        try:
            barrier.wait()
            results.append(services.reminder_scan(now=NOW, dispatch=False, batch_size=7))
        finally:
            connection.close()

    # when
    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then: 40 loans × (in-app, email), 16 of them 7+ days overdue with a copy to the head,
    # 40 warranties × 2 clerks × 2 channels
    expected = 40 * 2 + 16 * 2 + 40 * 2 * 2
    assert Delivery.objects.count() == expected
    assert sum(r.created for r in results) == expected
    assert all(not r.failed for r in results)
    duplicates = (
        Delivery.objects.values("dedup_key", "recipient_id", "channel")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    assert list(duplicates) == []
