"""The asset timeline tells who decided: the approval steps under the event that opened the
approval, the department head's approval of the asset request an assignment fulfilled, and
the fault a holder reported when a clerk sends the asset to repair."""

import pytest
from django.utils.translation import gettext

from assets.lifecycle import Status
from assets.models import ApprovalStep
from assets.services import (
    approval_decide,
    approval_request,
    asset_request_decide,
    asset_request_fulfil,
    asset_request_submit,
    asset_transition,
    repair_report,
)
from assets.views.lifecycle import PAYLOAD_LABELS, asset_timeline
from itassets.roles import ROLES

from .factories import RepairOrderFactory
from .org import make_org

pytestmark = pytest.mark.django_db

HEAD, CLERK = str(ROLES["dept_head"].label), str(ROLES["clerk"].label)
APPROVED, REJECTED, SKIPPED = (
    str(ApprovalStep.Decision.APPROVED.label),
    str(ApprovalStep.Decision.REJECTED.label),
    str(ApprovalStep.Decision.SKIPPED.label),
)


@pytest.fixture
def org(make_user):
    return make_org(make_user)


def details_of(asset, user, transition) -> list[tuple[str, str]]:
    """The (label, text) lines of the asset's latest ``transition`` event on its timeline."""
    entries = asset_timeline(asset=asset, user=user)
    return next(e for e in entries if e.event.transition == transition).details


def test_disposal_request_lists_the_decisions(org):
    # given: the head approved with a comment, then a clerk approved
    asset = org.asset()
    approval = approval_request(
        asset=asset, transition="request_disposal", actor=org.clerk, reason="屏幕损坏"
    )
    approval_decide(approval=approval, actor=org.head, approve=True, comment="同意报废")
    approval_decide(approval=approval, actor=org.clerk2, approve=True)
    # when
    details = details_of(asset, org.clerk, "request_disposal")
    # then
    assert details[-2:] == [
        (HEAD, f"{APPROVED} · {org.head.username}: 同意报废"),
        (CLERK, f"{APPROVED} · {org.clerk2.username}"),
    ]


def test_undecided_steps_are_not_listed_and_a_skipped_one_says_so(org):
    # given: 总部 has no head: the department step is skipped, the clerk's is open
    asset = org.asset(department=org.root)
    approval_request(asset=asset, transition="request_disposal", actor=org.clerk)
    # when
    details = details_of(asset, org.clerk, "request_disposal")
    # then
    assert details[-1] == (HEAD, SKIPPED)
    assert not any(label == CLERK for label, _text in details)


def test_failed_repair_lists_the_decisions_of_its_disposal_approval(org):
    # given
    asset = org.asset(status=Status.IN_REPAIR, holder=org.employee_person)
    RepairOrderFactory(asset=asset, in_repair=True)
    asset_transition(
        asset=asset, transition="repair_failed", actor=org.clerk, data={"result": "主板烧毁"}
    )
    approval = asset.approvals.get()
    approval_decide(approval=approval, actor=org.head, approve=False, comment="还能用")
    # when
    details = details_of(asset, org.clerk, "repair_failed")
    # then
    assert (HEAD, f"{REJECTED} · {org.head.username}: 还能用") in details


def test_assignment_of_a_request_says_who_approved_the_request(org):
    # given
    asset = org.asset()
    request = asset_request_submit(actor=org.employee, category=org.laptops, reason="新项目")
    asset_request_decide(request=request, actor=org.head, approve=True, comment="尽快配发")
    asset_request_fulfil(request=request, actor=org.clerk, asset=asset)
    # when
    details = dict(details_of(asset, org.clerk, "assign"))
    # then
    assert details[str(PAYLOAD_LABELS["asset_request"])] == str(request)
    assert details[gettext("Request approved by")] == f"{org.head.username}: 尽快配发"


def test_repair_of_a_reported_fault_says_what_was_reported_and_by_whom(org):
    # given
    asset = org.asset(status=Status.IN_USE, holder=org.employee_person)
    order = repair_report(actor=org.employee, asset=asset, fault="无法开机")
    # when
    event = asset_transition(
        asset=asset, transition="send_to_repair", actor=org.clerk, data={"repair_order": order}
    )
    # then
    assert (event.payload["fault"], event.payload["reported_by"]) == (
        "无法开机",
        org.employee.username,
    )
    details = dict(details_of(asset, org.clerk, "send_to_repair"))
    assert (
        details[str(PAYLOAD_LABELS["fault"])],
        details[str(PAYLOAD_LABELS["reported_by"])],
    ) == (
        "无法开机",
        org.employee.username,
    )


def test_the_decisions_cost_two_more_queries(org, django_assert_num_queries):
    # given: an assignment from a request and a decided disposal request
    asset = org.asset()
    request = asset_request_submit(actor=org.employee, category=org.laptops, reason="新项目")
    asset_request_decide(request=request, actor=org.head, approve=True)
    asset_request_fulfil(request=request, actor=org.clerk, asset=asset)
    asset_transition(
        asset=asset, transition="return", actor=org.clerk, data={"location": org.warehouse}
    )
    approval = approval_request(asset=asset, transition="request_disposal", actor=org.clerk)
    approval_decide(approval=approval, actor=org.clerk2, approve=False, comment="还能用")
    # when / then: events, approval steps, asset requests
    with django_assert_num_queries(3):
        asset_timeline(asset=asset, user=org.clerk)
