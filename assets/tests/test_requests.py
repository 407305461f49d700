"""Asset requests (申领): submitted → approved/rejected → fulfilled/cancelled, who may make
each move, illegal moves refused with nothing changed, and the two pages."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from assets import signals
from assets.lifecycle import Status
from assets.models import AssetRequest, Handover
from assets.services import (
    asset_request_cancel,
    asset_request_decide,
    asset_request_fulfil,
    asset_request_submit,
)

from .factories import AssetModelFactory, LocationFactory, PersonFactory
from .org import make_org

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
State = AssetRequest.State


@pytest.fixture
def org(make_user):
    return make_org(make_user)


def submit(org, user=None, **kwargs):
    kwargs.setdefault("category", org.laptops)
    kwargs.setdefault("reason", "新员工入职")
    return asset_request_submit(actor=user or org.employee, **kwargs)


def in_state(org, state, requester=None):
    """A request put straight into ``state`` (the states' own moves are tested below)."""
    person = requester or org.employee_person
    return AssetRequest.objects.create(
        requester=person,
        department=person.department,
        category=org.laptops,
        reason="需要",
        state=state,
    )


def snapshot(request):
    request.refresh_from_db()
    return (
        request.state,
        request.decided_by_id,
        request.decided_at,
        request.fulfilled_asset_id,
        request.fulfilled_by_id,
    )


# --- The flow ---------------------------------------------------------------------------------


def test_the_whole_flow_submit_approve_fulfil(org, django_capture_on_commit_callbacks):
    # given
    received = []

    def receiver(sender, **kwargs):
        received.append((kwargs["request_id"], kwargs["state"]))

    signals.asset_request_changed.connect(receiver)
    model = AssetModelFactory(category=org.laptops, name="ThinkPad X1")
    laptop = org.asset(model=model)
    needed = timezone.localdate() + datetime.timedelta(days=7)
    try:
        # when
        with django_capture_on_commit_callbacks(execute=True):
            request = submit(org, model=model, needed_by=needed)
        with django_capture_on_commit_callbacks(execute=True):
            asset_request_decide(request=request, actor=org.head, approve=True, comment="同意")
        with django_capture_on_commit_callbacks(execute=True):
            asset_request_fulfil(request=request, actor=org.clerk, asset=laptop)
    finally:
        signals.asset_request_changed.disconnect(receiver)
    # then
    request.refresh_from_db()
    assert (request.requester, request.department, request.model, request.needed_by) == (
        org.employee_person,
        org.rd,
        model,
        needed,
    )
    assert (request.state, request.decided_by, request.decision_comment) == (
        State.FULFILLED,
        org.head,
        "同意",
    )
    assert (request.fulfilled_asset, request.fulfilled_by) == (laptop, org.clerk)
    assert request.decided_at is not None and request.fulfilled_at is not None
    laptop.refresh_from_db()
    assert (laptop.status, laptop.holder, laptop.department, laptop.location) == (
        Status.IN_USE,
        org.employee_person,
        org.rd,
        org.warehouse,
    )
    event = laptop.events.get()
    assert (event.transition, event.actor) == ("assign", org.clerk)
    assert event.handover.to_person == org.employee_person
    assert event.handover.needs_acceptance is True
    assert received == [
        (request.pk, State.SUBMITTED),
        (request.pk, State.APPROVED),
        (request.pk, State.FULFILLED),
    ]


def test_a_head_of_a_parent_department_decides(org):
    # given: 测试部 has no head; 研发中心 (its parent) has
    request = submit(org, user=org.tester)
    # when
    asset_request_decide(request=request, actor=org.head, approve=False, comment="预算不足")
    # then
    request.refresh_from_db()
    assert (request.state, request.decision_comment) == (State.REJECTED, "预算不足")


def test_an_administrator_decides_any_request(org, make_user):
    request = submit(org)
    asset_request_decide(request=request, actor=make_user("admin"), approve=True)
    request.refresh_from_db()
    assert request.state == State.APPROVED


def test_fulfil_may_put_the_asset_elsewhere(org):
    # given
    request = in_state(org, State.APPROVED)
    laptop = org.asset()
    office = LocationFactory(name="302室")
    # when
    asset_request_fulfil(request=request, actor=org.clerk, asset=laptop, location=office)
    # then
    laptop.refresh_from_db()
    assert laptop.location == office


@pytest.mark.parametrize("state", [State.SUBMITTED, State.APPROVED])
def test_the_requester_cancels(org, state):
    request = in_state(org, state)
    asset_request_cancel(request=request, actor=org.employee)
    request.refresh_from_db()
    assert request.state == State.CANCELLED


# --- Refused ----------------------------------------------------------------------------------


def test_submit_needs_a_staff_record(org):
    with pytest.raises(PermissionDenied):
        submit(org, user=org.lone)
    assert not AssetRequest.objects.exists()


def test_submit_validates_reason_model_and_date(org):
    # given
    phone_model = AssetModelFactory(category=org.phones)
    # when
    with pytest.raises(ValidationError) as exc:
        submit(
            org,
            reason="  ",
            model=phone_model,
            needed_by=timezone.localdate() - datetime.timedelta(days=1),
        )
    # then
    assert set(exc.value.message_dict) == {"reason", "model", "needed_by"}
    assert not AssetRequest.objects.exists()


@pytest.mark.parametrize(
    ("state", "move"),
    [
        (State.APPROVED, "decide"),
        (State.REJECTED, "decide"),
        (State.FULFILLED, "decide"),
        (State.CANCELLED, "decide"),
        (State.SUBMITTED, "fulfil"),
        (State.REJECTED, "fulfil"),
        (State.FULFILLED, "fulfil"),
        (State.CANCELLED, "fulfil"),
        (State.REJECTED, "cancel"),
        (State.FULFILLED, "cancel"),
        (State.CANCELLED, "cancel"),
    ],
)
def test_illegal_moves_are_refused_and_change_nothing(org, state, move):
    # given
    request = in_state(org, state)
    laptop = org.asset()
    before = snapshot(request)
    # when
    with pytest.raises(ValidationError) as exc:
        if move == "decide":
            asset_request_decide(request=request, actor=org.head, approve=True)
        elif move == "fulfil":
            asset_request_fulfil(request=request, actor=org.clerk, asset=laptop)
        else:
            asset_request_cancel(request=request, actor=org.employee)
    # then
    assert str(request.get_state_display()) in exc.value.messages[0]
    assert snapshot(request) == before
    laptop.refresh_from_db()
    assert (laptop.status, laptop.holder) == (Status.IN_STOCK, None)
    assert not laptop.events.exists()


@pytest.mark.parametrize("who", ["other_head", "clerk", "tester", "employee", "lone"])
def test_only_the_department_head_decides(org, who):
    # given: the employee may not approve their own request either
    request = submit(org)
    before = snapshot(request)
    # when
    with pytest.raises(PermissionDenied):
        asset_request_decide(request=request, actor=getattr(org, who), approve=True)
    # then
    assert snapshot(request) == before


def test_a_head_cannot_approve_their_own_request(org):
    # given
    request = submit(org, user=org.head)
    # when
    with pytest.raises(PermissionDenied):
        asset_request_decide(request=request, actor=org.head, approve=True)
    # then
    request.refresh_from_db()
    assert request.state == State.SUBMITTED


@pytest.mark.parametrize("who", ["head", "employee"])
def test_only_clerks_fulfil(org, who):
    request = in_state(org, State.APPROVED)
    laptop = org.asset()
    with pytest.raises(PermissionDenied):
        asset_request_fulfil(request=request, actor=getattr(org, who), asset=laptop)
    request.refresh_from_db()
    laptop.refresh_from_db()
    assert (request.state, laptop.status) == (State.APPROVED, Status.IN_STOCK)


def test_fulfil_refuses_an_asset_of_another_category_or_model(org):
    # given
    request = in_state(org, State.APPROVED)
    request.model = AssetModelFactory(category=org.laptops)
    request.save(update_fields=["model"])
    phone = org.asset(model=AssetModelFactory(category=org.phones))
    other_laptop = org.asset()
    for asset in (phone, other_laptop):
        # when
        with pytest.raises(ValidationError) as exc:
            asset_request_fulfil(request=request, actor=org.clerk, asset=asset)
        # then
        assert "asset" in exc.value.message_dict
        asset.refresh_from_db()
        assert asset.status == Status.IN_STOCK
    request.refresh_from_db()
    assert request.state == State.APPROVED


def test_fulfil_refuses_an_asset_that_is_not_in_stock(org):
    # given
    request = in_state(org, State.APPROVED)
    laptop = org.asset(assigned=True, holder=org.tester_person)
    # when
    with pytest.raises(ValidationError):
        asset_request_fulfil(request=request, actor=org.clerk, asset=laptop)
    # then
    request.refresh_from_db()
    laptop.refresh_from_db()
    assert request.state == State.APPROVED
    assert laptop.holder == org.tester_person
    assert not Handover.objects.exists()


@pytest.mark.parametrize("who", ["tester", "head", "clerk"])
def test_only_the_requester_cancels(org, who):
    request = submit(org)
    with pytest.raises(PermissionDenied):
        asset_request_cancel(request=request, actor=getattr(org, who))
    request.refresh_from_db()
    assert request.state == State.SUBMITTED


# --- /me/requests/ ----------------------------------------------------------------------------

MINE = "/me/requests/"


def test_my_requests_page_lists_only_mine_and_the_form(org, client_as):
    # given
    mine = submit(org, reason="我的申请")
    submit(org, user=org.tester, reason="别人的申请")
    # when
    response = client_as(user=org.employee).get(MINE)
    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert [r.pk for r in response.context["requests"]] == [mine.pk]
    assert "我的申请" in body and "别人的申请" not in body
    assert 'id="request-form"' in body
    assert f'hx-get="{reverse("me:model_options")}"' in body
    assert "\u00a0\u00a0笔记本" in body  # the category tree, indented


def test_my_requests_htmx_get_is_the_list_fragment(org, client_as):
    submit(org)
    body = client_as(user=org.employee).get(MINE, **HTMX).content.decode()
    assert body.lstrip().startswith('<section id="request-list"')


def test_submitting_by_htmx_refreshes_form_and_list(org, client_as):
    # given
    client = client_as(user=org.employee)
    # when
    response = client.post(
        MINE, {"category": org.laptops.pk, "model": "", "reason": "旧电脑太慢"}, **HTMX
    )
    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert response["HX-Trigger"] == "assetRequestsChanged"
    assert 'id="request-form" class="card" hx-swap-oob="true"' in body
    assert 'id="request-list" class="card" hx-swap-oob="true"' in body
    assert "旧电脑太慢" in body
    request = AssetRequest.objects.get()
    assert (request.requester, request.category, request.state) == (
        org.employee_person,
        org.laptops,
        State.SUBMITTED,
    )


def test_an_invalid_request_gets_the_form_again(org, client_as):
    response = client_as(user=org.employee).post(
        MINE, {"category": org.laptops.pk, "reason": ""}, **HTMX
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<form id="request-form"')
    assert "is-invalid" in body
    assert not AssetRequest.objects.exists()


def test_plain_post_redirects(org, client_as):
    response = client_as(user=org.employee).post(
        MINE, {"category": org.laptops.pk, "reason": "需要显示器"}
    )
    assert response.status_code == 302
    assert response["Location"] == MINE


def test_model_options_follow_the_category(org, client_as):
    # given
    laptop_model = AssetModelFactory(category=org.laptops, name="ThinkPad")
    phone_model = AssetModelFactory(category=org.phones, name="iPhone")
    client = client_as(user=org.employee)
    # when
    body = client.get(
        reverse("me:model_options"), {"category": org.computers.pk}, **HTMX
    ).content.decode()
    # then: the sub-category's models are included
    assert f'value="{laptop_model.pk}"' in body
    assert f'value="{phone_model.pk}"' not in body


def test_cancel_from_my_requests(org, client_as):
    request = submit(org)
    response = client_as(user=org.employee).post(
        reverse("me:request_cancel", args=[request.pk]), **HTMX
    )
    assert response.status_code == 200
    request.refresh_from_db()
    assert request.state == State.CANCELLED


def test_cancelling_someone_elses_request_is_404(org, client_as):
    request = submit(org)
    response = client_as(user=org.tester).post(reverse("me:request_cancel", args=[request.pk]))
    assert response.status_code == 404
    request.refresh_from_db()
    assert request.state == State.SUBMITTED


@pytest.mark.parametrize("url", [MINE, "/me/requests/models/"])
def test_self_service_needs_a_staff_record(org, client_as, url):
    assert client_as(user=org.lone).get(url).status_code == 403


# --- /requests/ -------------------------------------------------------------------------------

QUEUE = "/requests/"


def test_head_sees_their_departments_requests_to_approve(org, client_as):
    # given
    ours = submit(org, user=org.tester)
    sales_person = PersonFactory(name="销售", department=org.sales)
    theirs = in_state(org, State.SUBMITTED, requester=sales_person)
    # when
    response = client_as(user=org.head).get(QUEUE)
    # then
    assert response.status_code == 200
    assert [r.pk for r in response.context["to_decide"]] == [ours.pk]
    assert theirs.pk not in [r.pk for r in response.context["to_decide"]]
    assert response.context["can_fulfil"] is False
    assert f'hx-get="{reverse("requests:decide", args=[ours.pk])}"' in response.content.decode()


def test_head_approves_by_dialog(org, client_as):
    # given
    request = submit(org)
    url = reverse("requests:decide", args=[request.pk])
    client = client_as(user=org.head)
    assert client.get(url, **HTMX).content.decode().lstrip().startswith("<dialog")
    # when
    response = client.post(url, {"decision": "approve", "comment": ""}, **HTMX)
    # then
    assert response.status_code == 200
    assert 'id="request-queue" hx-swap-oob="true"' in response.content.decode()
    request.refresh_from_db()
    assert (request.state, request.decided_by) == (State.APPROVED, org.head)


def test_another_head_gets_404_and_nothing_changes(org, client_as):
    request = submit(org)
    url = reverse("requests:decide", args=[request.pk])
    client = client_as(user=org.other_head)
    assert client.get(url).status_code == 404
    assert client.post(url, {"decision": "approve"}).status_code == 404
    request.refresh_from_db()
    assert request.state == State.SUBMITTED


def test_clerk_fulfils_by_picking_a_matching_in_stock_asset(org, client_as):
    # given
    request = in_state(org, State.APPROVED)
    laptop = org.asset()
    in_use = org.asset(assigned=True)
    phone = org.asset(model=AssetModelFactory(category=org.phones))
    url = reverse("requests:fulfil", args=[request.pk])
    client = client_as(user=org.clerk)
    # when
    page = client.get(QUEUE)
    dialog = client.get(url, **HTMX).content.decode()
    response = client.post(url, {"asset": laptop.pk, "location": "", "note": ""}, **HTMX)
    # then
    assert [r.pk for r in page.context["to_fulfil"]] == [request.pk]
    assert f'value="{laptop.pk}"' in dialog
    assert f'value="{in_use.pk}"' not in dialog
    assert f'value="{phone.pk}"' not in dialog
    assert response.status_code == 200
    assert response["HX-Trigger"] == "assetRequestsChanged"
    request.refresh_from_db()
    laptop.refresh_from_db()
    assert (request.state, request.fulfilled_asset) == (State.FULFILLED, laptop)
    assert (laptop.status, laptop.holder) == (Status.IN_USE, org.employee_person)


def test_fulfil_of_a_submitted_request_is_404(org, client_as):
    request = submit(org)
    response = client_as(user=org.clerk).get(reverse("requests:fulfil", args=[request.pk]))
    assert response.status_code == 404


def test_queue_htmx_get_is_the_fragment(org, client_as):
    body = client_as(user=org.clerk).get(QUEUE, **HTMX).content.decode()
    assert body.lstrip().startswith('<div id="request-queue"')


@pytest.mark.parametrize("role", ["employee", "auditor", "keeper"])
def test_queue_is_forbidden_to_other_roles(client_as, role):
    assert client_as(role).get(QUEUE).status_code == 403


def test_an_employee_cannot_fulfil(org, client_as):
    request = in_state(org, State.APPROVED)
    laptop = org.asset()
    url = reverse("requests:fulfil", args=[request.pk])
    response = client_as(user=org.employee).post(url, {"asset": laptop.pk})
    assert response.status_code == 404
    laptop.refresh_from_db()
    assert laptop.status == Status.IN_STOCK
