"""Requisitions (领用申请): submitted → approved / rejected by the requester's department head
(or a head above, or an administrator) → partly / fully issued by a keeper's issue documents,
or cancelled. Every step is announced after commit; refusals change nothing."""

from decimal import Decimal as D

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from assets.tests.org import make_org
from inventory import selectors, services, signals
from inventory.models import Document, LedgerEntry, Requisition

from .conftest import balance, receive
from .factories import ItemFactory, RequisitionFactory


@pytest.fixture
def org(make_user):
    return make_org(make_user)


@pytest.fixture
def stocked(keeper, warehouse, item):
    return receive(keeper, warehouse, item, 10, "80.00")


def submit(org, item, quantity=2, **kwargs):
    return services.requisition_submit(
        actor=org.tester,
        lines=[{"item": item, "quantity": quantity}],
        reason="打印机换硒鼓",
        **kwargs,
    )


def snapshot(requisition):
    requisition.refresh_from_db()
    return (
        requisition.state,
        list(requisition.lines.values_list("item_id", "quantity", "issued_quantity")),
        Document.objects.count(),
        LedgerEntry.objects.count(),
    )


def test_the_whole_journey_request_approve_issue_partly_then_fully(
    org, keeper, warehouse, stocked, django_capture_on_commit_callbacks
):
    heard = []

    def receiver(sender, requisition_id, state, **kwargs):
        heard.append(state)

    signals.requisition_changed.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            # an employee of 测试部 asks for 3 boxes
            requisition = submit(org, stocked, 3)
            assert (requisition.requester, requisition.department) == (
                org.tester_person,
                org.qa,
            )
            # the head of 研发中心 (the department above 测试部) approves
            services.requisition_decide(
                requisition=requisition, actor=org.head, approve=True, comment="同意"
            )
            # the keeper issues 1, then the remaining 2
            first = services.requisition_fulfil(
                requisition=requisition,
                actor=keeper,
                warehouse=warehouse,
                lines={stocked.pk: 1},
            )
            assert requisition.state == "partly_issued"
            second = services.requisition_fulfil(
                requisition=requisition, actor=keeper, warehouse=warehouse
            )
    finally:
        signals.requisition_changed.disconnect(receiver)

    assert heard == ["submitted", "approved", "partly_issued", "fully_issued"]
    requisition.refresh_from_db()
    assert requisition.state == "fully_issued"
    assert (requisition.decided_by, requisition.comment) == (org.head, "同意")
    assert list(requisition.lines.values_list("quantity", "issued_quantity")) == [(D("3"), D("3"))]
    for result in (first, second):
        document = result.document
        assert (document.type, document.status, document.requisition) == (
            "issue",
            "posted",
            requisition,
        )
        assert (document.person, document.department) == (org.tester_person, org.qa)
    assert balance(stocked, warehouse) == (D("7"), D("560.00"), D("80"))


def test_only_a_head_of_the_requesters_department_tree_or_an_admin_decides(org, item, make_user):
    requisition = submit(org, item)
    before = snapshot(requisition)

    for outsider in (org.other_head, org.tester, org.employee, org.clerk, make_user("keeper")):
        with pytest.raises(PermissionDenied):
            services.requisition_decide(requisition=requisition, actor=outsider, approve=True)
    assert snapshot(requisition) == before

    assert selectors.requisition_may_decide(requisition, org.head)
    assert selectors.requisition_may_decide(requisition, make_user("admin"))
    assert list(selectors.requisitions_to_decide(user=org.head)) == [requisition]
    assert list(selectors.requisitions_to_decide(user=org.other_head)) == []


def test_a_rejection_needs_a_reason_and_closes_the_requisition(org, item, keeper, warehouse):
    requisition = submit(org, item)
    with pytest.raises(ValidationError) as exc:
        services.requisition_decide(requisition=requisition, actor=org.head, approve=False)
    assert exc.value.message_dict == {"comment": ["Say why the requisition is rejected."]}

    services.requisition_decide(
        requisition=requisition, actor=org.head, approve=False, comment="库存紧张，下月再领"
    )
    before = snapshot(requisition)

    with pytest.raises(ValidationError) as exc:
        services.requisition_fulfil(requisition=requisition, actor=keeper, warehouse=warehouse)
    assert exc.value.messages == ["This requisition cannot be issued: it is “Rejected”."]
    with pytest.raises(ValidationError):
        services.requisition_decide(requisition=requisition, actor=org.head, approve=True)
    assert snapshot(requisition) == before


def test_a_submitted_requisition_cannot_be_issued_yet(org, stocked, keeper, warehouse):
    requisition = submit(org, stocked)
    before = snapshot(requisition)
    with pytest.raises(ValidationError) as exc:
        services.requisition_fulfil(requisition=requisition, actor=keeper, warehouse=warehouse)
    assert exc.value.messages == ["This requisition cannot be issued: it is “Submitted”."]
    assert snapshot(requisition) == before


def test_issuing_more_than_requested_or_other_items_is_refused(org, stocked, keeper, warehouse):
    other = ItemFactory(name="鼠标", code="MOUSE-1")
    requisition = RequisitionFactory(
        requester=org.tester_person, approved=True, lines=[(stocked, 2)]
    )
    before = snapshot(requisition)

    with pytest.raises(services.DocumentInvalid) as too_many:
        services.requisition_fulfil(
            requisition=requisition, actor=keeper, warehouse=warehouse, lines={stocked.pk: 3}
        )
    with pytest.raises(services.DocumentInvalid) as not_requested:
        services.requisition_fulfil(
            requisition=requisition, actor=keeper, warehouse=warehouse, lines={other.pk: 1}
        )

    assert too_many.value.messages == [
        "Line 1: Only 2盒 of 硒鼓（TONER-26A） remain to be issued for this requisition."
    ]
    assert not_requested.value.messages == [
        f"Line 1: 鼠标（MOUSE-1） is not on requisition #{requisition.pk}."
    ]
    assert snapshot(requisition) == before


def test_a_shortage_while_fulfilling_changes_nothing(org, stocked, keeper, warehouse):
    requisition = RequisitionFactory(
        requester=org.tester_person, approved=True, lines=[(stocked, 12)]
    )
    before = snapshot(requisition)

    with pytest.raises(services.StockShortage):
        services.requisition_fulfil(requisition=requisition, actor=keeper, warehouse=warehouse)

    assert snapshot(requisition) == before
    assert balance(stocked, warehouse) == (D("10"), D("800.00"), D("80"))


def test_only_keepers_fulfil(org, stocked, warehouse):
    requisition = RequisitionFactory(
        requester=org.tester_person, approved=True, lines=[(stocked, 1)]
    )
    before = snapshot(requisition)
    for user in (org.head, org.tester, org.clerk):
        with pytest.raises(PermissionDenied):
            services.requisition_fulfil(requisition=requisition, actor=user, warehouse=warehouse)
    assert snapshot(requisition) == before


def test_reversing_an_issue_gives_the_quantity_back_to_the_requisition(
    org, stocked, keeper, warehouse
):
    requisition = RequisitionFactory(
        requester=org.tester_person, approved=True, lines=[(stocked, 2)]
    )
    result = services.requisition_fulfil(requisition=requisition, actor=keeper, warehouse=warehouse)
    assert requisition.state == "fully_issued"

    services.document_reverse(document=result.document, actor=keeper, reason="发错了")

    assert snapshot(requisition)[:2] == ("approved", [(stocked.pk, D("2"), D("0"))])
    assert balance(stocked, warehouse) == (D("10"), D("800.00"), D("80"))


def test_cancelling(org, stocked, keeper, warehouse):
    mine = submit(org, stocked)
    services.requisition_cancel(requisition=mine, actor=org.tester)
    assert snapshot(mine)[0] == "cancelled"

    # a keeper closes an approved requisition that will not be issued, but not a submitted one
    approved = RequisitionFactory(requester=org.tester_person, approved=True, lines=[(stocked, 1)])
    submitted = RequisitionFactory(requester=org.tester_person, lines=[(stocked, 1)])
    services.requisition_cancel(requisition=approved, actor=keeper, comment="已停产")
    assert snapshot(approved)[0] == "cancelled"
    before = snapshot(submitted)
    with pytest.raises(ValidationError):
        services.requisition_cancel(requisition=submitted, actor=keeper)
    with pytest.raises(PermissionDenied):
        services.requisition_cancel(requisition=submitted, actor=org.employee)
    assert snapshot(submitted) == before

    # a fully issued requisition stays as it is
    done = RequisitionFactory(requester=org.tester_person, approved=True, lines=[(stocked, 1)])
    services.requisition_fulfil(requisition=done, actor=keeper, warehouse=warehouse)
    with pytest.raises(ValidationError) as exc:
        services.requisition_cancel(requisition=done, actor=org.tester)
    assert exc.value.messages == ["This requisition cannot be cancelled: it is “Fully issued”."]


def test_submitting_checks_items_quantities_and_the_reason(org, item):
    cable = ItemFactory(by_metre=True)
    old = ItemFactory(inactive=True)
    count = Requisition.objects.count()

    with pytest.raises(services.DocumentInvalid) as exc:
        services.requisition_submit(
            actor=org.tester,
            reason=" ",
            lines=[
                {"item": item, "quantity": 0},
                {"item": cable, "quantity": "2.5"},
                {"item": cable, "quantity": "1"},
                {"item": old, "quantity": 1},
                {"item": 999999, "quantity": 1},
            ],
        )
    with pytest.raises(PermissionDenied):
        services.requisition_submit(
            actor=org.lone, reason="x", lines=[{"item": item, "quantity": 1}]
        )

    assert exc.value.message_dict == {
        "reason": ["Please give a reason."],
        "lines": [
            "Line 1: The quantity must be greater than zero.",
            f"Line 3: {cable} is listed twice; enter one line per item.",
            f"Line 4: {old} is no longer in use.",
            "Line 5: This item does not exist.",
        ],
    }
    assert Requisition.objects.count() == count


def test_the_selectors_show_each_person_their_part(org, stocked, keeper, make_user):
    mine = submit(org, stocked)
    approved = RequisitionFactory(
        requester=org.employee_person, approved=True, lines=[(stocked, 1)]
    )

    assert list(selectors.requisitions_mine(user=org.tester)) == [mine]
    assert list(selectors.requisitions_to_fulfil(user=keeper)) == [approved]
    assert list(selectors.requisitions_to_fulfil(user=org.tester)) == []
    assert selectors.requisition_get(user=org.tester, pk=mine.pk) == mine
    assert selectors.requisition_get(user=org.employee, pk=mine.pk) is None
    assert selectors.requisition_get(user=org.head, pk=mine.pk) == mine
    assert selectors.requisition_get(user=keeper, pk=mine.pk) == mine


def test_a_replayed_fulfilment_changes_nothing(org, stocked, keeper, warehouse):
    requisition = RequisitionFactory(
        requester=org.tester_person, approved=True, lines=[(stocked, 2)]
    )

    def fulfil():
        return services.requisition_fulfil(
            requisition=requisition, actor=keeper, warehouse=warehouse, idempotency_key="fulfil-1"
        )

    first = fulfil()
    before = snapshot(requisition)
    again = fulfil()

    assert (first.posted, again.posted) == (True, False)
    assert again.document.pk == first.document.pk
    assert snapshot(requisition) == before
