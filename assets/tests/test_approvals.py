"""Approvals of request_disposal and report_lost: steps, who may decide, what each decision
does to the asset, the queue page and its dialog."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from assets import signals
from assets.lifecycle import Status
from assets.models import ApprovalRequest, ApprovalStep, AssetEvent
from assets.services import approval_cancel, approval_decide, approval_request, asset_transition

from .org import make_org

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
Decision = ApprovalStep.Decision


@pytest.fixture
def org(make_user):
    return make_org(make_user)


def steps_of(approval):
    return list(
        approval.steps.order_by("number").values_list("number", "role", "approver", "decision")
    )


def decisions(approval):
    return list(approval.steps.order_by("number").values_list("decision", "decided_by"))


# --- Requesting -------------------------------------------------------------------------------


def test_request_disposal_moves_the_asset_to_pending_disposal_with_two_steps(org):
    # given
    asset = org.asset()
    # when
    approval = approval_request(
        asset=asset, transition="request_disposal", actor=org.clerk, reason="屏幕损坏"
    )
    # then
    asset.refresh_from_db()
    assert asset.status == Status.PENDING_DISPOSAL
    assert approval.state == ApprovalRequest.State.PENDING
    assert approval.previous_status == Status.IN_STOCK
    assert approval.reason == "屏幕损坏"
    assert approval.current_step == 1
    assert steps_of(approval) == [
        (1, "dept_head", org.head.pk, Decision.PENDING),
        (2, "clerk", None, Decision.PENDING),
    ]
    event = asset.events.get()
    assert (event.transition, event.from_status, event.to_status, event.actor) == (
        "request_disposal",
        Status.IN_STOCK,
        Status.PENDING_DISPOSAL,
        org.clerk,
    )
    assert event.payload["approval"] == {"id": approval.pk}


def test_report_lost_request_changes_nothing_until_approved(org):
    # given
    asset = org.asset(assigned=True, holder=org.employee_person)
    # when
    approval = approval_request(
        asset=asset, transition="report_lost", actor=org.clerk, reason="出差遗失"
    )
    # then
    asset.refresh_from_db()
    assert asset.status == Status.IN_USE
    assert asset.holder == org.employee_person
    assert approval.previous_status == Status.IN_USE
    assert not asset.events.exists()


def test_the_head_of_a_parent_department_decides_when_the_department_has_none(org):
    # given: 测试部 has no head; 研发中心 above it has
    asset = org.asset(department=org.qa)
    # when
    approval = approval_request(asset=asset, transition="request_disposal", actor=org.clerk)
    # then
    assert steps_of(approval)[0] == (1, "dept_head", org.head.pk, Decision.PENDING)


def test_the_department_head_step_is_skipped_when_nobody_heads_the_department(org):
    # given: 总部 has no head and no parent
    asset = org.asset(department=org.root)
    # when
    approval = approval_request(asset=asset, transition="request_disposal", actor=org.clerk)
    # then
    assert steps_of(approval) == [
        (1, "dept_head", None, Decision.SKIPPED),
        (2, "clerk", None, Decision.PENDING),
    ]
    assert approval.current_step == 2


def test_one_step_configuration(org, settings):
    # given
    settings.APPROVAL_STEPS = ["clerk"]
    asset = org.asset()
    approval = approval_request(asset=asset, transition="request_disposal", actor=org.clerk)
    assert steps_of(approval) == [(1, "clerk", None, Decision.PENDING)]
    # when
    approval_decide(approval=approval, actor=org.clerk2, approve=True, comment="同意")
    # then
    approval.refresh_from_db()
    assert approval.state == ApprovalRequest.State.APPROVED
    asset_transition(asset=asset, transition="dispose", actor=org.clerk, data={"method": "sale"})
    asset.refresh_from_db()
    assert asset.status == Status.DISPOSED


def test_request_needs_the_transition_permission_and_changes_nothing(org):
    # given
    asset = org.asset()
    # when / then
    with pytest.raises(PermissionDenied):
        approval_request(asset=asset, transition="request_disposal", actor=org.employee)
    with pytest.raises(PermissionDenied):  # a department head approves but does not request
        approval_request(asset=asset, transition="request_disposal", actor=org.head)
    asset.refresh_from_db()
    assert asset.status == Status.IN_STOCK
    assert not ApprovalRequest.objects.exists()


@pytest.mark.parametrize(
    ("status", "transition"),
    [
        (Status.IN_USE, "request_disposal"),
        (Status.DISPOSED, "report_lost"),
        (Status.LOST, "report_lost"),
        (Status.IN_STOCK, "dispose"),
    ],
)
def test_request_refused_when_the_transition_is_not_possible(org, status, transition):
    # given
    asset = org.asset(status=status)
    # when
    with pytest.raises(ValidationError):
        approval_request(asset=asset, transition=transition, actor=org.clerk)
    # then
    asset.refresh_from_db()
    assert asset.status == status
    assert not ApprovalRequest.objects.exists()
    assert not AssetEvent.objects.exists()


@pytest.mark.usefixtures("english")
def test_a_second_request_while_one_is_pending_is_refused(org):
    # given
    asset = org.asset(assigned=True)
    approval_request(asset=asset, transition="report_lost", actor=org.clerk)
    # when
    with pytest.raises(ValidationError, match="already pending"):
        approval_request(asset=asset, transition="report_lost", actor=org.clerk2)
    # then
    assert ApprovalRequest.objects.count() == 1


# --- Deciding ---------------------------------------------------------------------------------


def test_two_step_disposal_approval_then_dispose(org):
    # given
    asset = org.asset()
    approval = approval_request(asset=asset, transition="request_disposal", actor=org.clerk)
    # when: the department head approves, then a clerk
    approval_decide(approval=approval, actor=org.head, approve=True, comment="可以报废")
    approval.refresh_from_db()
    assert approval.state == ApprovalRequest.State.PENDING
    assert approval.current_step == 2
    with pytest.raises(ValidationError):  # not yet: the clerk step is open
        asset_transition(
            asset=asset, transition="dispose", actor=org.clerk, data={"method": "recycling"}
        )
    approval_decide(approval=approval, actor=org.clerk2, approve=True)
    # then
    approval.refresh_from_db()
    assert approval.state == ApprovalRequest.State.APPROVED
    assert approval.decided_at is not None
    steps = list(approval.steps.order_by("number"))
    assert [(s.decision, s.decided_by, s.comment) for s in steps] == [
        (Decision.APPROVED, org.head, "可以报废"),
        (Decision.APPROVED, org.clerk2, ""),
    ]
    assert all(s.decided_at is not None for s in steps)
    asset.refresh_from_db()
    assert asset.status == Status.PENDING_DISPOSAL  # approval alone does not dispose
    asset_transition(
        asset=asset, transition="dispose", actor=org.clerk, data={"method": "recycling"}
    )
    asset.refresh_from_db()
    assert asset.status == Status.DISPOSED


@pytest.mark.parametrize("previous", [Status.IN_STOCK, Status.IN_REPAIR])
@pytest.mark.parametrize("step", [1, 2])
def test_disposal_rejection_returns_the_asset_to_its_previous_state(org, previous, step):
    # given
    asset = org.asset(status=previous)
    approval = approval_request(asset=asset, transition="request_disposal", actor=org.clerk)
    if step == 2:
        approval_decide(approval=approval, actor=org.head, approve=True)
    rejecter = org.head if step == 1 else org.clerk2
    # when
    approval_decide(approval=approval, actor=rejecter, approve=False, comment="还能用")
    # then
    approval.refresh_from_db()
    asset.refresh_from_db()
    assert approval.state == ApprovalRequest.State.REJECTED
    assert asset.status == previous
    event = asset.events.order_by("-id").first()
    assert (event.transition, event.from_status, event.to_status, event.actor, event.note) == (
        "reject_disposal",
        Status.PENDING_DISPOSAL,
        previous,
        rejecter,
        "还能用",
    )
    assert decisions(approval)[step - 1] == (Decision.REJECTED, rejecter.pk)
    if step == 1:  # the clerk step is never reached
        assert decisions(approval)[1] == (Decision.PENDING, None)
    with pytest.raises(ValidationError):
        asset_transition(
            asset=asset, transition="dispose", actor=org.clerk, data={"method": "sale"}
        )


def test_report_lost_final_approval_runs_the_transition(org):
    # given
    asset = org.asset(assigned=True, holder=org.employee_person)
    approval = approval_request(
        asset=asset, transition="report_lost", actor=org.clerk, reason="出差遗失"
    )
    # when
    approval_decide(approval=approval, actor=org.head, approve=True)
    asset.refresh_from_db()
    assert asset.status == Status.IN_USE  # one step is not enough
    approval_decide(approval=approval, actor=org.clerk2, approve=True, comment="确认丢失")
    # then
    asset.refresh_from_db()
    approval.refresh_from_db()
    assert approval.state == ApprovalRequest.State.APPROVED
    assert asset.status == Status.LOST
    event = asset.events.get()
    assert (event.transition, event.from_status, event.to_status, event.actor) == (
        "report_lost",
        Status.IN_USE,
        Status.LOST,
        org.clerk2,
    )
    assert event.payload["approval"] == {"id": approval.pk}


def test_report_lost_decided_by_a_department_head_alone(org, settings):
    # given: one step, the department head's; heads lack report_lost_asset but approve it
    settings.APPROVAL_STEPS = ["dept_head"]
    asset = org.asset(assigned=True)
    approval = approval_request(asset=asset, transition="report_lost", actor=org.clerk)
    # when
    approval_decide(approval=approval, actor=org.head, approve=True)
    # then
    asset.refresh_from_db()
    assert asset.status == Status.LOST
    assert asset.events.get().actor == org.head


@pytest.mark.parametrize("step", [1, 2])
def test_report_lost_rejection_changes_nothing(org, step):
    # given
    asset = org.asset(assigned=True, holder=org.employee_person)
    approval = approval_request(asset=asset, transition="report_lost", actor=org.clerk)
    if step == 2:
        approval_decide(approval=approval, actor=org.head, approve=True)
    # when
    approval_decide(
        approval=approval,
        actor=org.head if step == 1 else org.clerk2,
        approve=False,
        comment="已找到",
    )
    # then
    asset.refresh_from_db()
    approval.refresh_from_db()
    assert approval.state == ApprovalRequest.State.REJECTED
    assert (asset.status, asset.holder) == (Status.IN_USE, org.employee_person)
    assert not asset.events.exists()


@pytest.mark.parametrize("who", ["other_head", "clerk", "employee", "tester"])
def test_wrong_approver_of_the_department_step_is_refused_and_nothing_changes(org, who):
    # given
    asset = org.asset()
    approval = approval_request(asset=asset, transition="request_disposal", actor=org.clerk)
    # when
    with pytest.raises(PermissionDenied):
        approval_decide(approval=approval, actor=getattr(org, who), approve=True)
    # then
    approval.refresh_from_db()
    asset.refresh_from_db()
    assert (approval.state, approval.current_step) == (ApprovalRequest.State.PENDING, 1)
    assert decisions(approval) == [(Decision.PENDING, None), (Decision.PENDING, None)]
    assert asset.status == Status.PENDING_DISPOSAL


@pytest.mark.parametrize("who", ["other_head", "employee"])
def test_the_clerk_step_is_only_for_clerks(org, who):
    # given
    asset = org.asset()
    approval = approval_request(asset=asset, transition="request_disposal", actor=org.clerk)
    approval_decide(approval=approval, actor=org.head, approve=True)
    # when
    with pytest.raises(PermissionDenied):
        approval_decide(approval=approval, actor=getattr(org, who), approve=False)
    # then
    approval.refresh_from_db()
    asset.refresh_from_db()
    assert (approval.state, approval.current_step) == (ApprovalRequest.State.PENDING, 2)
    assert asset.status == Status.PENDING_DISPOSAL


@pytest.mark.usefixtures("english")
def test_deciding_twice_is_refused_and_changes_nothing(org):
    # given
    asset = org.asset()
    approval = approval_request(asset=asset, transition="request_disposal", actor=org.clerk)
    approval_decide(approval=approval, actor=org.head, approve=True)
    # when: the head again (the clerk step is open now)
    with pytest.raises(ValidationError, match="already decided"):
        approval_decide(approval=approval, actor=org.head, approve=False)
    approval_decide(approval=approval, actor=org.clerk2, approve=True)
    # and the clerk again (the request is closed)
    with pytest.raises(ValidationError, match="already been decided"):
        approval_decide(approval=approval, actor=org.clerk2, approve=False)
    # then
    approval.refresh_from_db()
    asset.refresh_from_db()
    assert approval.state == ApprovalRequest.State.APPROVED
    assert decisions(approval) == [
        (Decision.APPROVED, org.head.pk),
        (Decision.APPROVED, org.clerk2.pk),
    ]
    assert asset.status == Status.PENDING_DISPOSAL


def test_the_requester_cancels_a_pending_disposal_request(org):
    # given
    asset = org.asset(status=Status.IN_REPAIR)
    approval = approval_request(asset=asset, transition="request_disposal", actor=org.clerk)
    # when: someone else may not
    with pytest.raises(PermissionDenied):
        approval_cancel(approval=approval, actor=org.clerk2)
    approval_cancel(approval=approval, actor=org.clerk)
    # then
    approval.refresh_from_db()
    asset.refresh_from_db()
    assert approval.state == ApprovalRequest.State.CANCELLED
    assert asset.status == Status.IN_REPAIR
    with pytest.raises(ValidationError):  # not twice
        approval_cancel(approval=approval, actor=org.clerk)
    with pytest.raises(ValidationError):  # and nobody decides it any more
        approval_decide(approval=approval, actor=org.head, approve=True)


def test_cancel_disposal_on_the_asset_lets_a_new_request_start(org):
    # given: the clerk cancels the disposal from the asset page while it is pending
    asset = org.asset()
    first = approval_request(asset=asset, transition="request_disposal", actor=org.clerk)
    asset_transition(asset=asset, transition="cancel_disposal", actor=org.clerk)
    # when
    second = approval_request(asset=asset, transition="request_disposal", actor=org.clerk)
    # then
    first.refresh_from_db()
    assert first.state == ApprovalRequest.State.CANCELLED
    assert second.state == ApprovalRequest.State.PENDING


def test_decisions_are_announced_after_commit(org, django_capture_on_commit_callbacks):
    # given
    received = []

    def receiver(sender, **kwargs):
        received.append(kwargs)

    signals.approval_decided.connect(receiver)
    asset = org.asset()
    try:
        with django_capture_on_commit_callbacks(execute=True):
            approval = approval_request(asset=asset, transition="request_disposal", actor=org.clerk)
        # when
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            approval_decide(approval=approval, actor=org.head, approve=True)
        assert received == []  # nothing before commit
        for callback in callbacks:
            callback()
    finally:
        signals.approval_decided.disconnect(receiver)
    # then
    step = approval.steps.get(number=1)
    assert {k: v for k, v in received[0].items() if k != "signal"} == {
        "approval_id": approval.pk,
        "step_id": step.pk,
        "decision": Decision.APPROVED,
        "final": False,
    }


# --- The queue page ---------------------------------------------------------------------------

URL = "/approvals/"


def test_queue_shows_the_steps_the_user_may_decide(org, client_as):
    # given
    mine = approval_request(asset=org.asset(), transition="request_disposal", actor=org.clerk)
    sales_asset = org.asset(department=org.sales)
    approval_request(asset=sales_asset, transition="request_disposal", actor=org.clerk)
    client = client_as(user=org.head)
    # when
    response = client.get(URL)
    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" in body
    assert [s.request_id for s in response.context["queue"]] == [mine.pk]
    assert mine.asset.tag in body
    assert sales_asset.tag not in body
    assert f'hx-get="{reverse("approvals:decide", args=[mine.pk])}"' in body
    assert 'id="dialog-slot"' in body


def test_clerks_see_the_clerk_step_only_once_the_head_approved(org, client_as):
    # given
    approval = approval_request(asset=org.asset(), transition="request_disposal", actor=org.clerk)
    client = client_as(user=org.clerk2)
    assert list(client.get(URL).context["queue"]) == []
    # when
    approval_decide(approval=approval, actor=org.head, approve=True)
    # then
    assert [s.request_id for s in client.get(URL).context["queue"]] == [approval.pk]


def test_queue_htmx_request_gets_only_the_queue_fragment(org, client_as):
    # given
    approval = approval_request(asset=org.asset(), transition="request_disposal", actor=org.clerk)
    client = client_as(user=org.head)
    # when
    response = client.get(URL, **HTMX)
    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body
    assert body.lstrip().startswith('<section id="approval-queue"')
    assert approval.asset.tag in body


@pytest.mark.parametrize("role", ["employee", "auditor", "keeper"])
def test_queue_is_forbidden_without_the_approve_permission(client_as, role):
    response = client_as(role).get(URL)
    assert response.status_code == 403


def test_decide_dialog_is_a_dialog_fragment_for_htmx(org, client_as):
    # given
    approval = approval_request(
        asset=org.asset(), transition="request_disposal", actor=org.clerk, reason="屏幕损坏"
    )
    url = reverse("approvals:decide", args=[approval.pk])
    client = client_as(user=org.head)
    # when
    fragment = client.get(url, **HTMX).content.decode()
    page = client.get(url).content.decode()
    # then
    assert fragment.lstrip().startswith('<dialog id="workflow-dialog"')
    assert f'hx-post="{url}"' in fragment
    assert 'name="decision" value="approve"' in fragment
    assert 'name="decision" value="reject"' in fragment
    assert "屏幕损坏" in fragment
    assert "<html" in page and "<dialog" not in page
    assert f'action="{url}"' in page


def test_decide_by_htmx_post_swaps_the_queue_and_empties_the_dialog(org, client_as):
    # given
    approval = approval_request(asset=org.asset(), transition="request_disposal", actor=org.clerk)
    url = reverse("approvals:decide", args=[approval.pk])
    client = client_as(user=org.head)
    # when
    response = client.post(url, {"decision": "approve", "comment": "同意"}, **HTMX)
    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert response["HX-Trigger"] == "approvalDecided"
    assert '<section id="approval-queue" class="card mb-4" hx-swap-oob="true"' in body
    assert 'id="approval-history" class="card mb-4" hx-swap-oob="true"' in body
    assert 'id="messages" aria-live="polite" hx-swap-oob="true"' in body
    assert "<dialog" not in body
    step = approval.steps.get(number=1)
    assert (step.decision, step.decided_by, step.comment) == (Decision.APPROVED, org.head, "同意")


def test_reject_without_a_comment_shows_the_dialog_again(org, client_as):
    # given
    approval = approval_request(asset=org.asset(), transition="request_disposal", actor=org.clerk)
    url = reverse("approvals:decide", args=[approval.pk])
    # when
    response = client_as(user=org.head).post(url, {"decision": "reject", "comment": ""}, **HTMX)
    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith("<dialog")
    assert "is-invalid" in body
    assert approval.steps.get(number=1).decision == Decision.PENDING


def test_plain_post_decides_and_redirects_to_the_queue(org, client_as):
    # given
    asset = org.asset()
    approval = approval_request(asset=asset, transition="request_disposal", actor=org.clerk)
    url = reverse("approvals:decide", args=[approval.pk])
    # when
    response = client_as(user=org.head).post(url, {"decision": "reject", "comment": "还能用"})
    # then
    assert response.status_code == 302
    assert response["Location"] == URL
    asset.refresh_from_db()
    assert asset.status == Status.IN_STOCK


@pytest.mark.parametrize("who", ["other_head", "clerk2"])
def test_wrong_approver_gets_403_from_the_dialog_and_nothing_changes(org, client, who):
    # given
    asset = org.asset()
    approval = approval_request(asset=asset, transition="request_disposal", actor=org.clerk)
    url = reverse("approvals:decide", args=[approval.pk])
    client.force_login(getattr(org, who))
    # when
    get = client.get(url, **HTMX)
    post = client.post(url, {"decision": "approve", "comment": ""}, **HTMX)
    # then
    assert (get.status_code, post.status_code) == (403, 403)
    assert decisions(approval) == [(Decision.PENDING, None), (Decision.PENDING, None)]
    asset.refresh_from_db()
    assert asset.status == Status.PENDING_DISPOSAL


def test_posting_a_decision_twice_shows_the_error(org, client_as):
    # given
    approval = approval_request(asset=org.asset(), transition="request_disposal", actor=org.clerk)
    url = reverse("approvals:decide", args=[approval.pk])
    client = client_as(user=org.head)
    client.cookies["django_language"] = "en"
    client.post(url, {"decision": "approve", "comment": ""}, **HTMX)
    # when
    response = client.post(url, {"decision": "reject", "comment": "改主意了"}, **HTMX)
    # then
    assert response.status_code == 200
    assert "You have already decided on this request." in response.content.decode()
    assert decisions(approval)[0] == (Decision.APPROVED, org.head.pk)


def test_requester_withdraws_from_the_queue_page(org, client_as):
    # given
    asset = org.asset()
    approval = approval_request(asset=asset, transition="request_disposal", actor=org.clerk)
    client = client_as(user=org.clerk)
    assert "withdraw" in client.get(URL).content.decode()
    # when
    response = client.post(reverse("approvals:cancel", args=[approval.pk]), **HTMX)
    # then
    assert response.status_code == 200
    assert 'id="approval-mine" class="card mb-4" hx-swap-oob="true"' in response.content.decode()
    approval.refresh_from_db()
    asset.refresh_from_db()
    assert approval.state == ApprovalRequest.State.CANCELLED
    assert asset.status == Status.IN_STOCK


def test_someone_else_cannot_withdraw(org, client_as):
    approval = approval_request(asset=org.asset(), transition="request_disposal", actor=org.clerk)
    response = client_as(user=org.clerk2).post(reverse("approvals:cancel", args=[approval.pk]))
    assert response.status_code == 404
    approval.refresh_from_db()
    assert approval.state == ApprovalRequest.State.PENDING


def test_approval_detail_shows_the_steps_to_those_involved(org, client_as):
    # given
    approval = approval_request(asset=org.asset(), transition="request_disposal", actor=org.clerk)
    approval_decide(approval=approval, actor=org.head, approve=True, comment="同意报废")
    url = reverse("approvals:detail", args=[approval.pk])
    # when
    ok = client_as(user=org.head).get(url)
    # then
    assert ok.status_code == 200
    assert "同意报废" in ok.content.decode()
    assert client_as(user=org.other_head).get(url).status_code == 404
    assert client_as(user=org.employee).get(url).status_code == 404


def test_queue_query_count_does_not_grow_with_rows(org, client_as, django_assert_max_num_queries):
    # given
    client = client_as(user=org.head)
    for _ in range(2):
        approval_request(asset=org.asset(), transition="request_disposal", actor=org.clerk)
    with django_assert_max_num_queries(20) as few:
        client.get(URL)
    for _ in range(10):
        approval_request(asset=org.asset(), transition="request_disposal", actor=org.clerk)
    # when / then
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(URL)
    assert len(response.context["queue"]) == 12


def test_the_dialog_of_a_decided_request_says_so(org, client_as):
    # given
    approval = approval_request(asset=org.asset(), transition="request_disposal", actor=org.clerk)
    approval_cancel(approval=approval, actor=org.clerk)
    # when
    response = client_as(user=org.head).get(reverse("approvals:decide", args=[approval.pk]), **HTMX)
    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="dialog-closed"' in body
    assert 'name="decision"' not in body
