"""Bad input and forbidden writes: each is refused with a clear message and changes nothing.

Quantities zero, negative, non-numeric or finer than the item's unit; unknown barcodes and
items; warehouses the keeper does not keep; posting twice (a no-op with a message); editing or
deleting a posted document by any route; and the database constraint behind the service's
stock check."""

from decimal import Decimal as D

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone, translation

from inventory import services
from inventory.models import Document, DocumentLine, LedgerEntry, Stock
from inventory.services import documents as document_services

from .conftest import balance, receive
from .factories import ItemFactory, WarehouseFactory


def state():
    """Everything a refused request must leave as it was."""
    return (
        list(Document.objects.order_by("id").values_list("id", "status", "number")),
        list(DocumentLine.objects.order_by("id").values_list("id", "quantity", "amount")),
        LedgerEntry.objects.count(),
        list(Stock.objects.order_by("id").values_list("quantity", "value", "average_cost")),
    )


@pytest.fixture
def stocked(keeper, warehouse, item):
    """10 boxes at 12.50 in the keeper's warehouse."""
    return receive(keeper, warehouse, item, 10, "12.50")


def create_issue(keeper, warehouse, person, line, **header):
    return services.document_create(
        actor=keeper,
        type="issue",
        warehouse=header.pop("warehouse", warehouse),
        person=person,
        lines=[line],
        **header,
    )


@pytest.mark.parametrize(
    ("quantity", "message"),
    [
        (0, "The quantity must be greater than zero."),
        ("0.000", "The quantity must be greater than zero."),
        (-3, "The quantity must be greater than zero."),
        ("abc", "Enter a number."),
        ("1e", "Enter a number."),
        ("NaN", "Enter a number."),
        ("Infinity", "Enter a number."),
        (True, "Enter a number."),
        ("", "Enter a quantity."),
        (None, "Enter a quantity."),
        ("1.5", "硒鼓（TONER-26A） is counted in whole units (盒)."),
        ("1e12", "The quantity is too large."),
    ],
)
def test_a_bad_quantity_is_refused(keeper, warehouse, stocked, person, quantity, message):
    before = state()

    with pytest.raises(services.DocumentInvalid) as exc:
        create_issue(keeper, warehouse, person, {"item": stocked, "quantity": quantity})

    assert exc.value.message_dict == {"lines": [f"Line 1: {message}"]}
    assert exc.value.line_errors == {0: {"quantity": [message]}}
    assert state() == before


def test_more_decimals_than_the_item_allows_are_refused(keeper, warehouse, person):
    cable = ItemFactory(by_metre=True, name="网线", code="CAT6")
    with pytest.raises(services.DocumentInvalid) as exc:
        create_issue(keeper, warehouse, person, {"item": cable, "quantity": "1.25"})
    assert exc.value.messages == ["Line 1: 网线（CAT6） is counted to at most 1 decimal places."]


def test_an_unknown_barcode_or_item_is_refused(keeper, warehouse, stocked, person):
    before = state()

    with pytest.raises(services.DocumentInvalid) as exc:
        services.document_create(
            actor=keeper,
            type="issue",
            warehouse=warehouse,
            person=person,
            lines=[
                {"barcode": "0000000000000", "quantity": 1},
                {"item": 987654321, "quantity": 1},
                {"item": "x", "quantity": 1},
                {"quantity": 1},
                {"barcode": stocked.barcode, "quantity": 1},
            ],
        )

    assert exc.value.messages == [
        "Line 1: No item has the barcode or code “0000000000000”.",
        "Line 2: This item does not exist.",
        "Line 3: This item does not exist.",
        "Line 4: Choose an item or scan its barcode.",
    ]
    assert state() == before


def test_an_inactive_item_is_refused(keeper, warehouse, person):
    old = ItemFactory(inactive=True, name="旧墨盒", code="OLD-1")
    with pytest.raises(services.DocumentInvalid) as exc:
        create_issue(keeper, warehouse, person, {"item": old, "quantity": 1})
    assert exc.value.messages == ["Line 1: 旧墨盒（OLD-1） is no longer in use."]


def test_a_warehouse_the_keeper_does_not_keep_is_refused(make_user, warehouse, stocked, person):
    # given: another keeper, of another warehouse
    stranger = make_user("keeper")
    WarehouseFactory(keepers=[stranger])
    before = state()

    # when / then: neither a draft nor an immediate posting
    with pytest.raises(PermissionDenied) as exc:
        create_issue(stranger, warehouse, person, {"item": stocked, "quantity": 1})
    with pytest.raises(PermissionDenied):
        services.document_create_and_post(
            actor=stranger,
            type="issue",
            warehouse=warehouse,
            person=person,
            lines=[{"item": stocked, "quantity": 1}],
        )
    assert str(exc.value) == f"You are not a keeper of {warehouse}."
    assert state() == before


def test_posting_a_draft_of_a_warehouse_the_keeper_does_not_keep_is_refused(
    keeper, make_user, warehouse, stocked, person
):
    draft = create_issue(keeper, warehouse, person, {"item": stocked, "quantity": 1})
    stranger = make_user("keeper")
    before = state()

    with pytest.raises(PermissionDenied):
        services.document_post(document=draft, actor=stranger)

    assert state() == before


def test_an_administrator_may_post_in_any_warehouse(make_user, warehouse, stocked, person):
    admin = make_user("admin")
    result = services.document_create_and_post(
        actor=admin,
        type="issue",
        warehouse=warehouse,
        person=person,
        lines=[{"item": stocked, "quantity": 1}],
    )
    assert result.posted


def test_roles_without_inventory_permissions_cannot_create_documents(
    make_user, warehouse, stocked, person
):
    before = state()
    for role in ("employee", "clerk", "auditor", "dept_head"):
        with pytest.raises(PermissionDenied):
            create_issue(make_user(role), warehouse, person, {"item": stocked, "quantity": 1})
    assert state() == before


def test_an_adjustment_needs_a_reason_and_the_permission(make_user, warehouse, stocked):
    # given: a keeper-like user with document permissions but not "adjust stock"
    user = make_user()
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="inventory", codename__in=["add_document", "post_document"]
        )
    )
    warehouse.keepers.add(user)
    keeper = make_user("keeper")
    warehouse.keepers.add(keeper)
    line = {"item": stocked, "quantity": 1, "direction": "out"}
    before = state()

    with pytest.raises(PermissionDenied) as denied:
        services.document_create(
            actor=user, type="adjustment", warehouse=warehouse, reason="盘错", lines=[line]
        )
    with pytest.raises(services.DocumentInvalid) as no_reason:
        services.document_create(actor=keeper, type="adjustment", warehouse=warehouse, lines=[line])
    with pytest.raises(services.DocumentInvalid) as no_direction:
        services.document_create(
            actor=keeper,
            type="adjustment",
            warehouse=warehouse,
            reason="x",
            lines=[{"item": stocked, "quantity": 1}],
        )

    assert str(denied.value) == "You are not allowed to make stock adjustments."
    assert no_reason.value.message_dict == {"reason": ["Give the reason for the adjustment."]}
    assert no_direction.value.messages == [
        "Line 1: Say whether the adjustment adds or removes stock."
    ]
    assert state() == before


def test_header_mistakes_are_each_named(keeper, warehouse, stocked):
    tomorrow = timezone.localdate() + timezone.timedelta(days=1)
    cases = [
        (
            "receipt",
            {"date": tomorrow},
            [{"item": stocked, "quantity": 1, "unit_cost": 1}],
            {"date": ["The date cannot be in the future."]},
        ),
        (
            "receipt",
            {},
            [{"item": stocked, "quantity": 1}],
            {"lines": ["Line 1: Enter the unit price."]},
        ),
        (
            "receipt",
            {},
            [{"item": stocked, "quantity": 1, "unit_cost": "-1"}],
            {"lines": ["Line 1: The amount cannot be negative."]},
        ),
        (
            "receipt",
            {},
            [{"item": stocked, "quantity": 1, "unit_cost": "1.23456"}],
            {"lines": ["Line 1: Enter at most 4 decimal places."]},
        ),
        (
            "issue",
            {},
            [{"item": stocked, "quantity": 1}],
            {"person": ["Choose who receives the items: a person, a department or both."]},
        ),
        (
            "transfer",
            {"to_warehouse": warehouse},
            [{"item": stocked, "quantity": 1}],
            {"to_warehouse": ["A transfer needs two different warehouses."]},
        ),
        (
            "transfer",
            {},
            [{"item": stocked, "quantity": 1}],
            {"to_warehouse": ["Choose the warehouse the items go to."]},
        ),
        ("receipt", {}, [], {"lines": ["Add at least one line."]}),
        ("nonsense", {}, [], {"type": ["Choose a document type."]}),
    ]
    before = state()
    for type_, header, lines, expected in cases:
        with pytest.raises(services.DocumentInvalid) as exc:
            services.document_create(
                actor=keeper, type=type_, warehouse=warehouse, lines=lines, **header
            )
        assert exc.value.message_dict == expected, type_
    assert state() == before


def test_issuing_more_than_on_hand_is_refused_naming_item_warehouse_and_quantities(
    keeper, warehouse, stocked, person
):
    draft = create_issue(keeper, warehouse, person, {"item": stocked, "quantity": 11})
    before = state()

    with pytest.raises(services.StockShortage) as exc:
        services.document_post(document=draft, actor=keeper)

    assert exc.value.messages == [
        f"Not enough stock of 硒鼓（TONER-26A） in {warehouse}: 10盒 available, 11盒 requested."
    ]
    assert (exc.value.available, exc.value.requested) == (D("10"), D("11"))
    assert exc.value.code == "insufficient_stock"
    draft.refresh_from_db()
    assert (draft.status, draft.number) == ("draft", None)
    assert state() == before


def test_the_shortage_message_is_chinese_for_chinese_users(keeper, warehouse, stocked, person):
    with translation.override("zh-hans"), pytest.raises(services.StockShortage) as exc:
        services.document_create_and_post(
            actor=keeper,
            type="issue",
            warehouse=warehouse,
            person=person,
            lines=[{"item": stocked, "quantity": 11}],
        )
    message = exc.value.messages[0]
    assert not message.startswith("Not enough stock")  # translated
    for part in ("硒鼓（TONER-26A）", str(warehouse), "10盒", "11盒"):
        assert part in message


def test_issuing_from_a_warehouse_that_never_had_the_item_is_refused(keeper, stocked, person):
    empty = WarehouseFactory(keepers=[keeper])
    before = state()
    with pytest.raises(services.StockShortage) as exc:
        services.document_create_and_post(
            actor=keeper,
            type="issue",
            warehouse=empty,
            person=person,
            lines=[{"item": stocked, "quantity": 1}],
        )
    assert exc.value.messages == [
        f"Not enough stock of 硒鼓（TONER-26A） in {empty}: 0盒 available, 1盒 requested."
    ]
    assert state() == before  # not even an empty stock row


def test_two_lines_that_together_exceed_the_balance_are_refused(keeper, warehouse, stocked, person):
    before = state()
    with pytest.raises(services.StockShortage) as exc:
        services.document_create_and_post(
            actor=keeper,
            type="issue",
            warehouse=warehouse,
            person=person,
            lines=[{"item": stocked, "quantity": 6}, {"item": stocked, "quantity": 5}],
        )
    assert "4盒 available, 5盒 requested." in exc.value.messages[0]
    assert state() == before


def test_posting_twice_is_a_no_op_with_a_message(keeper, warehouse, stocked, person):
    draft = create_issue(keeper, warehouse, person, {"item": stocked, "quantity": 2})
    first = services.document_post(document=draft, actor=keeper)
    before = state()

    second = services.document_post(document=draft, actor=keeper)
    stale = services.document_post(document=Document.objects.get(pk=draft.pk), actor=keeper)

    assert first.posted is True
    assert (second.posted, stale.posted) == (False, False)
    assert second.message == f"{first.document.number} is already posted; nothing was changed."
    assert state() == before
    assert balance(stocked, warehouse) == (D("8"), D("100.00"), D("12.5"))


def test_a_replayed_request_with_the_same_key_posts_once(keeper, warehouse, stocked, person):
    def send():
        return services.document_create_and_post(
            actor=keeper,
            type="issue",
            warehouse=warehouse,
            person=person,
            idempotency_key="scan-7f3a",
            lines=[{"item": stocked, "quantity": 1}],
        )

    first = send()
    before = state()
    again = send()

    assert (first.posted, again.posted) == (True, False)
    assert again.document.pk == first.document.pk
    assert again.message == f"{first.document.number} is already posted; nothing was changed."
    assert state() == before


def test_a_posted_document_cannot_be_edited_or_deleted_by_any_route(
    keeper, warehouse, stocked, person
):
    # given: a posted issue, and a stale copy loaded while it was a draft
    draft = create_issue(keeper, warehouse, person, {"item": stocked, "quantity": 1})
    stale = Document.objects.get(pk=draft.pk)
    posted = services.document_post(document=draft, actor=keeper).document
    line = DocumentLine.objects.get(document=posted)
    entry = LedgerEntry.objects.filter(document=posted).get()
    before = state()
    message = "Posted documents cannot be changed or deleted; reverse them instead."

    # when / then
    posted.reason = "改一下"
    attempts = [
        lambda: posted.save(),
        lambda: stale.save(),  # a draft loaded before posting
        lambda: posted.delete(),
        lambda: line.save(),
        lambda: line.delete(),
        lambda: entry.save(),
        lambda: entry.delete(),
        lambda: LedgerEntry.objects.filter(pk=entry.pk).delete(),
    ]
    for attempt in attempts:
        with pytest.raises(ValidationError) as exc, transaction.atomic():
            attempt()
        assert exc.value.messages == [message]
    # Queryset deletes stop earlier still: the ledger's foreign keys protect them.
    for attempt in (
        lambda: Document.objects.filter(pk=posted.pk).delete(),
        lambda: DocumentLine.objects.filter(pk=line.pk).delete(),
    ):
        with pytest.raises(ProtectedError), transaction.atomic():
            attempt()
    for call in (
        lambda: services.document_update(document=posted, actor=keeper, reason="x"),
        lambda: services.document_delete(document=posted, actor=keeper),
    ):
        with pytest.raises(ValidationError) as exc:
            call()
        assert exc.value.messages == [
            f"{posted.number} is posted: it cannot be changed or deleted; reverse it instead."
        ]
    assert state() == before
    assert Document.objects.get(pk=posted.pk).reason == ""


def test_a_draft_can_be_edited_and_deleted(keeper, warehouse, stocked, person):
    draft = create_issue(keeper, warehouse, person, {"item": stocked, "quantity": 1})

    services.document_update(
        document=draft, actor=keeper, reason="部门借用", lines=[{"item": stocked, "quantity": 3}]
    )
    assert list(draft.lines.values_list("quantity", flat=True)) == [D("3")]
    assert Document.objects.get(pk=draft.pk).reason == "部门借用"

    services.document_delete(document=draft, actor=keeper)
    assert not Document.objects.filter(pk=draft.pk).exists()
    assert not DocumentLine.objects.filter(document_id=draft.pk).exists()


def test_the_database_constraint_refuses_a_negative_balance(stocked, warehouse):
    with pytest.raises(IntegrityError), transaction.atomic():
        Stock.objects.filter(item=stocked, warehouse=warehouse).update(quantity=D("-1"))
    with pytest.raises(IntegrityError), transaction.atomic():
        Stock.objects.filter(item=stocked, warehouse=warehouse).update(value=D("-0.01"))


def test_the_constraint_is_the_second_guard_with_the_same_message(
    keeper, warehouse, stocked, person, monkeypatch
):
    # given: the service's own check switched off
    monkeypatch.setattr(document_services, "stock_available", lambda on_hand, requested: True)
    before = state()

    # when
    with pytest.raises(services.StockShortage) as exc:
        services.document_create_and_post(
            actor=keeper,
            type="issue",
            warehouse=warehouse,
            person=person,
            lines=[{"item": stocked, "quantity": 12}],
        )

    # then: the database refused the update; same message; nothing saved
    assert exc.value.messages == [
        f"Not enough stock of 硒鼓（TONER-26A） in {warehouse}: 10盒 available, 12盒 requested."
    ]
    assert state() == before
