"""Event notifications: assets' signals (sent after commit) → notifications.services.notify
(wired in assets/notify.py). Each event is announced once to the people it concerns."""

import pytest

from assets import signals
from assets.services import asset_transition
from assets.services.approvals import approval_decide, approval_request
from assets.services.requests import (
    asset_request_decide,
    asset_request_fulfil,
    asset_request_submit,
    repair_report,
)
from assets.tests.org import make_org
from notifications.models import Delivery, Notification

pytestmark = pytest.mark.django_db


@pytest.fixture
def org(make_user):
    return make_org(make_user)


def deliveries(event_type):
    return sorted(
        Delivery.objects.filter(event_type=event_type).values_list("recipient_id", "channel")
    )


def test_an_assignment_tells_the_holder_with_a_link_to_confirm(
    org, django_capture_on_commit_callbacks
):
    # given
    asset = org.asset()

    # when
    with django_capture_on_commit_callbacks(execute=True):
        event = asset_transition(
            asset=asset, transition="assign", actor=org.clerk, data={"holder": org.employee_person}
        )

    # then: in-app and email (张三 has no address: given up, with the reason)
    assert deliveries("asset_assigned") == [
        (org.employee.pk, "email"),
        (org.employee.pk, "in_app"),
    ]
    notification = Notification.objects.get(user=org.employee)
    assert asset.tag in notification.title
    assert notification.link == "/me/assets/"
    assert event.handover.number in notification.body
    assert Delivery.objects.get(channel="email").status == Delivery.Status.GIVEN_UP


def test_a_signal_sent_twice_announces_once(org, django_capture_on_commit_callbacks):
    asset = org.asset()
    with django_capture_on_commit_callbacks(execute=True):
        event = asset_transition(
            asset=asset,
            transition="loan",
            actor=org.clerk,
            data={"holder": org.employee_person, "due_date": "2099-01-01"},
        )

    signals.asset_transitioned.send(sender=type(asset), event_id=event.pk)

    assert Notification.objects.filter(user=org.employee).count() == 1
    assert Delivery.objects.filter(event_type="asset_assigned").count() == 2


def test_an_approval_request_tells_the_approver_then_the_requester(
    org, django_capture_on_commit_callbacks
):
    # given
    asset = org.asset()

    # when: a clerk asks to dispose of an asset of 研发中心 (step 1: its head 王主任)
    with django_capture_on_commit_callbacks(execute=True):
        approval = approval_request(
            asset=asset, transition="request_disposal", actor=org.clerk, reason="屏幕损坏"
        )

    # then
    assert deliveries("approval_waiting") == [(org.head.pk, "email"), (org.head.pk, "in_app")]
    waiting = Notification.objects.get(user=org.head)
    assert waiting.link == f"/approvals/{approval.pk}/"
    assert waiting.body == "屏幕损坏"

    # when: the head approves; step 2 waits for the other clerk (not the requester)
    with django_capture_on_commit_callbacks(execute=True):
        approval_decide(approval=approval, actor=org.head, approve=True)
    assert {r for r, _c in deliveries("approval_waiting")} == {org.head.pk, org.clerk2.pk}

    # when: the clerk approves: the requester hears the outcome
    with django_capture_on_commit_callbacks(execute=True):
        approval_decide(approval=approval, actor=org.clerk2, approve=True, comment="同意报废")
    assert deliveries("approval_decided") == [(org.clerk.pk, "email"), (org.clerk.pk, "in_app")]
    assert Notification.objects.get(user=org.clerk, event_type="approval_decided").body == (
        "同意报废"
    )


def test_an_asset_request_flow(org, django_capture_on_commit_callbacks):
    laptop = org.asset()
    with django_capture_on_commit_callbacks(execute=True):
        request = asset_request_submit(actor=org.employee, category=org.laptops, reason="新员工")
    assert {r for r, _c in deliveries("request_waiting")} == {org.head.pk}

    with django_capture_on_commit_callbacks(execute=True):
        asset_request_decide(request=request, actor=org.head, approve=True)
    assert {r for r, _c in deliveries("request_decided")} == {org.employee.pk}
    assert {r for r, _c in deliveries("request_waiting")} == {
        org.head.pk,
        org.clerk.pk,
        org.clerk2.pk,
    }

    with django_capture_on_commit_callbacks(execute=True):
        asset_request_fulfil(request=request, actor=org.clerk, asset=laptop)
    assert {r for r, _c in deliveries("request_fulfilled")} == {org.employee.pk}
    assert laptop.tag in Notification.objects.get(event_type="request_fulfilled").title


def test_a_fault_report_tells_the_clerks(org, django_capture_on_commit_callbacks):
    asset = org.asset(status="in_use", holder=org.employee_person)

    with django_capture_on_commit_callbacks(execute=True):
        order = repair_report(actor=org.employee, asset=asset, fault="无法开机")

    assert deliveries("repair_reported") == [(org.clerk.pk, "in_app"), (org.clerk2.pk, "in_app")]
    assert Notification.objects.filter(event_type="repair_reported").first().link == (
        f"/assets/repairs/{order.pk}/"
    )


def test_a_failing_receiver_does_not_break_the_service(
    org, django_capture_on_commit_callbacks, monkeypatch
):
    # given: notifications are broken
    from assets import notify as wiring

    def broken(**kwargs):
        raise RuntimeError("notifications down")

    monkeypatch.setattr(wiring, "notify", broken)
    asset = org.asset()

    # when
    with django_capture_on_commit_callbacks(execute=True):
        asset_transition(
            asset=asset, transition="assign", actor=org.clerk, data={"holder": org.employee_person}
        )

    # then: the assignment happened, nothing was announced
    asset.refresh_from_db()
    assert asset.holder == org.employee_person
    assert not Delivery.objects.exists()
