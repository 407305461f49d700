"""A failed repair leads to disposal: ``repair_failed`` moves the asset to pending disposal and
opens the same disposal approval as ``request_disposal`` (lead's decision), so the approvers'
queue shows it, ``dispose`` works once it is approved, and a rejection returns the asset to
stock."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from assets.lifecycle import Status
from assets.models import ApprovalRequest, ApprovalStep, AssetEvent, RepairOrder
from assets.services import approval_decide, approval_request, asset_transition

from .factories import RepairOrderFactory
from .org import make_org

pytestmark = pytest.mark.django_db

Decision = ApprovalStep.Decision


@pytest.fixture
def org(make_user):
    return make_org(make_user)


@pytest.fixture
def broken(org):
    """张三's laptop of 研发中心, in repair since it stopped booting."""
    asset = org.asset(status=Status.IN_REPAIR, holder=org.employee_person)
    order = RepairOrderFactory(
        asset=asset, in_repair=True, previous_status=Status.IN_USE, number="WX-20260301-0001"
    )
    return asset, order


def fail_repair(org, asset):
    return asset_transition(
        asset=asset, transition="repair_failed", actor=org.clerk, data={"result": "主板烧毁"}
    )


@pytest.mark.usefixtures("english")
def test_repair_failed_opens_the_disposal_approval(org, broken):
    # given
    asset, order = broken
    # when
    event = fail_repair(org, asset)
    # then: pending disposal, the repair order failed, one disposal approval with two steps
    asset.refresh_from_db()
    order.refresh_from_db()
    assert asset.status == Status.PENDING_DISPOSAL
    assert order.state == RepairOrder.State.FAILED
    approval = ApprovalRequest.objects.get()
    assert (
        approval.asset,
        approval.transition,
        approval.state,
        approval.previous_status,
        approval.requested_by,
        approval.current_step,
    ) == (asset, "request_disposal", ApprovalRequest.State.PENDING, Status.IN_STOCK, org.clerk, 1)
    assert approval.reason == "Repair WX-20260301-0001 failed: 主板烧毁"
    assert approval.payload == {"repair_order": {"id": order.pk, "name": str(order)}}
    assert list(
        approval.steps.order_by("number").values_list("number", "role", "approver", "decision")
    ) == [(1, "dept_head", org.head.pk, Decision.PENDING), (2, "clerk", None, Decision.PENDING)]
    # one event, the repair_failed one, pointing at the approval
    assert list(AssetEvent.objects.values_list("transition", flat=True)) == ["repair_failed"]
    assert (event.from_status, event.to_status) == (Status.IN_REPAIR, Status.PENDING_DISPOSAL)
    assert event.payload["approval"] == {"id": approval.pk}


def test_the_approvers_queue_shows_the_failed_repair(org, broken, client_as):
    # given
    asset, _order = broken
    fail_repair(org, asset)
    # when
    response = client_as(user=org.head).get(reverse("approvals:list"))
    # then
    assert response.status_code == 200
    queue = response.context["queue"]
    assert [(s.request.asset, s.request.transition, s.role) for s in queue] == [
        (asset, "request_disposal", "dept_head")
    ]
    assert "WX-20260301-0001" in response.content.decode()


def test_after_both_approvals_the_asset_can_be_disposed_of(org, broken, client_as):
    # given
    asset, _order = broken
    fail_repair(org, asset)
    approval = ApprovalRequest.objects.get()
    # when
    approval_decide(approval=approval, actor=org.head, approve=True, comment="同意报废")
    approval_decide(approval=approval, actor=org.clerk2, approve=True)
    # then: the detail page offers "dispose", and the service disposes
    page = client_as(user=org.clerk).get(asset.get_absolute_url())
    assert "dispose" in [t.name for t in page.context["transitions"]]
    event = asset_transition(
        asset=asset, transition="dispose", actor=org.clerk, data={"method": "recycling"}
    )
    asset.refresh_from_db()
    assert asset.status == Status.DISPOSED
    assert (asset.holder, asset.department) == (None, None)
    assert (event.from_status, event.to_status) == (Status.PENDING_DISPOSAL, Status.DISPOSED)
    approval.refresh_from_db()
    assert approval.state == ApprovalRequest.State.APPROVED


def test_dispose_before_the_approval_is_refused_and_changes_nothing(org, broken, client_as):
    # given: the department head approved, the clerk step is still open
    asset, _order = broken
    fail_repair(org, asset)
    approval_decide(approval=ApprovalRequest.objects.get(), actor=org.head, approve=True)
    # when
    with pytest.raises(ValidationError) as exc:
        asset_transition(
            asset=asset, transition="dispose", actor=org.clerk, data={"method": "recycling"}
        )
    # then
    assert exc.value.error_list[0].code == "not_approved"
    asset.refresh_from_db()
    assert asset.status == Status.PENDING_DISPOSAL
    assert AssetEvent.objects.filter(transition="dispose").count() == 0
    page = client_as(user=org.clerk).get(asset.get_absolute_url())
    assert "dispose" not in [t.name for t in page.context["transitions"]]


@pytest.mark.parametrize("step", [1, 2])
def test_rejection_returns_the_asset_to_stock(org, broken, step):
    # given
    asset, _order = broken
    fail_repair(org, asset)
    approval = ApprovalRequest.objects.get()
    if step == 2:
        approval_decide(approval=approval, actor=org.head, approve=True)
    # when
    rejecter = org.head if step == 1 else org.clerk2
    approval_decide(approval=approval, actor=rejecter, approve=False, comment="还能用")
    # then: in stock, nobody holds it, a reject_disposal event; dispose is not possible
    asset.refresh_from_db()
    approval.refresh_from_db()
    assert approval.state == ApprovalRequest.State.REJECTED
    assert (asset.status, asset.holder, asset.department) == (Status.IN_STOCK, None, None)
    last = asset.events.order_by("-id").first()
    assert (last.transition, last.from_status, last.to_status, last.note) == (
        "reject_disposal",
        Status.PENDING_DISPOSAL,
        Status.IN_STOCK,
        "还能用",
    )
    with pytest.raises(ValidationError):
        asset_transition(
            asset=asset, transition="dispose", actor=org.clerk, data={"method": "recycling"}
        )


def test_a_new_disposal_request_after_the_rejection_starts_a_new_approval(org, broken):
    # given: the failed repair's disposal was rejected (the asset is back in stock)
    asset, _order = broken
    fail_repair(org, asset)
    first = ApprovalRequest.objects.get()
    approval_decide(approval=first, actor=org.head, approve=False, comment="还能用")
    # when
    second = approval_request(asset=asset, transition="request_disposal", actor=org.clerk)
    # then
    asset.refresh_from_db()
    assert asset.status == Status.PENDING_DISPOSAL
    assert second.pk != first.pk
    assert second.state == ApprovalRequest.State.PENDING


@pytest.mark.usefixtures("english")
def test_repair_failed_while_a_loss_report_is_pending_is_refused_and_changes_nothing(org, broken):
    # given
    asset, order = broken
    approval_request(asset=asset, transition="report_lost", actor=org.clerk, reason="找不到了")
    # when
    with pytest.raises(ValidationError, match="already pending"):
        fail_repair(org, asset)
    # then
    asset.refresh_from_db()
    order.refresh_from_db()
    assert asset.status == Status.IN_REPAIR
    assert order.state == RepairOrder.State.IN_REPAIR
    assert list(ApprovalRequest.objects.values_list("transition", flat=True)) == ["report_lost"]
    assert not AssetEvent.objects.exists()
